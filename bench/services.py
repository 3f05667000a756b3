"""Services the benchmark runs against: a private redis-server and per-scenario key spaces."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def private_redis(fallback_url: str | None = None, port: int = 0) -> Iterator[str]:
    """Start a throwaway redis-server on `port` (a free one when 0) and yield its URL.

    Without the `redis-server` binary, yield `fallback_url` (the caller then relies on
    unique key names and cleans up after itself).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        if fallback_url is None:
            raise RuntimeError("redis-server not found and no fallback Redis URL given")
        yield fallback_url
        return
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="aos-bench-redis-")
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    args += ["--appendonly", "no", "--dir", workdir, "--daemonize", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for_ping(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for_ping(url: str, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
            client.ping()
            client.close()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass(frozen=True)
class BenchKeys:
    """Unique source id and stream names for one scenario."""

    source_id: str
    stream: str
    dlq_stream: str

    @classmethod
    def fresh(cls, scenario: str) -> BenchKeys:
        """Keys no other run or test uses."""
        tag = f"{scenario}-{uuid.uuid4().hex[:10]}"
        return cls(
            source_id=f"bench-{tag}",
            stream=f"bench:{tag}:invoices",
            dlq_stream=f"bench:{tag}:invoices:dlq",
        )

    def env(self) -> dict[str, str]:
        """The sidecar environment variables naming these keys."""
        return {
            "AOS_SOURCE_ID": self.source_id,
            "AOS_STREAM": self.stream,
            "AOS_DLQ_STREAM": self.dlq_stream,
        }

    def stream_lengths(self, client: redis.Redis) -> tuple[int, int]:
        """Entries in the main stream and the dead-letter stream."""
        pipe = client.pipeline(transaction=False)
        pipe.xlen(self.stream)
        pipe.xlen(self.dlq_stream)
        main, dlq = pipe.execute()
        return int(main), int(dlq)

    def delete(self, client: redis.Redis) -> None:
        """Remove every key of this scenario (streams, seen markers, checkpoint)."""
        client.delete(self.stream, self.dlq_stream, f"aos:checkpoint:{self.source_id}")
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"aos:*:{self.source_id}:*", count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)


def env_with(extra: dict[str, str]) -> dict[str, str]:
    """The current environment plus `extra`."""
    return {**os.environ, **extra}
