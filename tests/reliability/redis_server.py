"""A private `redis-server` process (AOF on) that a test may stop, kill and restart."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now.

    `AOS_TEST_PORTS=FIRST-LAST` confines the choice to that range (machines shared by
    several test runs); otherwise the system picks one.
    """
    first, _, last = os.environ.get("AOS_TEST_PORTS", "").partition("-")
    candidates = range(int(first), int(last) + 1) if first and last else [0]
    for candidate in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free port in AOS_TEST_PORTS={first}-{last}")


class PrivateRedis:
    """One redis-server on a fixed free port with its data directory; restartable."""

    def __init__(
        self, directory: Path, *, port: int | None = None, tls: dict[str, str] | None = None
    ):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "redis.log"

    @property
    def url(self) -> str:
        """The URL a client uses to reach this server."""
        if self.tls is not None:
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls['ca']}"
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        command = [
            self.binary,
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        if self.tls is None:
            return [*command, "--port", str(self.port)]
        return [
            *command,
            "--port", "0",
            "--tls-port", str(self.port),
            "--tls-cert-file", self.tls["cert"],
            "--tls-key-file", self.tls["key"],
            "--tls-ca-cert-file", self.tls["ca"],
            "--tls-auth-clients", "no",
        ]  # fmt: skip

    def client(self) -> redis.Redis:
        """A fresh client with short timeouts."""
        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING with its AOF loaded."""
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                log = self.log_path.read_text() if self.log_path.exists() else ""
                raise RuntimeError(f"redis-server exited on start: {log[-2000:]}")
            try:
                client = self.client()
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not answer")
            time.sleep(0.05)

    def _wait(self, timeout: float) -> None:
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down cleanly (SIGTERM: it flushes the AOF and exits)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self._wait(timeout)

    def kill(self, timeout: float = 10.0) -> None:
        """Kill the server abruptly (SIGKILL); acknowledged writes survive via AOF fsync always."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self._wait(timeout)

    def restart(self) -> None:
        """Stop (if running) and start again on the same port and data directory."""
        self.stop()
        self.start()
