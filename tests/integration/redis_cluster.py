"""A real three-primary Redis Cluster (one replica each) on local ports, for the tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

PORT_RANGE = range(7400, 7500)
"""Ports the test clusters may use by default; each cluster takes a free block of NODES."""
FIRST_PORT = PORT_RANGE.start
NODES = 6
NODE_TIMEOUT_MS = 1000


@dataclass
class LocalCluster:
    """Six redis-server processes in cluster mode under `root` (nodes.conf there)."""

    root: Path
    first_port: int = FIRST_PORT
    """Where the search for a free block starts; the 100 ports from here are tried."""
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ports(self) -> list[int]:
        return list(range(self.first_port, self.first_port + NODES))

    def url(self, port: int | None = None) -> str:
        return f"redis://127.0.0.1:{port or self.first_port}/0"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)

    def start_node(self, port: int) -> None:
        """Start (or restart, with its nodes.conf) the node on `port`."""
        directory = self.root / str(port)
        directory.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server",
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            "--dir", str(directory),
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes[port] = process

        def ours() -> bool:
            if process.poll() is not None:
                raise PortTaken(f"redis-server on {port} exited ({process.returncode})")
            return _answers(self.node(port)) and (
                int(self.node(port).info("server")["process_id"]) == process.pid
            )

        _until(ours, f"node {port} to start")

    def create(self) -> None:
        """Start six nodes on a free block of ports and join them: three primaries, each
        with one replica. Another run (a second checkout's tests) may hold a block: the
        next one is tried."""
        start = self.first_port
        for first in range(start, start + len(PORT_RANGE) - NODES + 1, NODES):
            if not all(
                _free(port) and _free(port + 10_000) for port in range(first, first + NODES)
            ):
                continue
            self.first_port = first
            try:
                for port in self.ports:
                    self.start_node(port)
            except PortTaken:
                self.stop()
                self.processes.clear()
                continue
            break
        else:
            raise AssertionError(f"no free block of {NODES} ports in {start}-{start + 99}")
        subprocess.run(
            [
                "redis-cli", "--cluster", "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas", "1", "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        self.wait_healthy()

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        """Until every running node reports cluster_state:ok and the same primaries."""

        def healthy() -> bool:
            views = []
            for port, process in self.processes.items():
                if process.poll() is not None:
                    continue
                info = self.node(port).cluster("info")
                if info.get("cluster_state") != "ok":
                    return False
                views.append(sorted(self.primaries_seen_by(port)))
            return all(view == views[0] for view in views)

        _until(healthy, "the cluster to be healthy", timeout_s)

    def primaries_seen_by(self, port: int) -> list[int]:
        nodes = self.node(port).cluster("nodes")
        return [
            int(address.split(":")[1].split("@")[0])
            for address, node in nodes.items()
            if "master" in node["flags"] and "fail" not in node["flags"] and node["connected"]
        ]

    def owner_of(self, key: str) -> int:
        """Port of the primary owning `key`'s slot."""
        slot = self.node(self.first_port).cluster("keyslot", key)
        for port, process in self.processes.items():
            if process.poll() is not None:
                continue
            role = self.node(port).execute_command("ROLE")
            if role[0] == b"master" and self._owns(port, int(slot)):
                return port
        raise AssertionError(f"no primary owns slot {slot}")

    def _owns(self, port: int, slot: int) -> bool:
        for start, end, primary, *_ in self.node(port).execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return int(primary[1]) == port
        return False

    def replica_of(self, primary_port: int) -> int:
        """Port of a replica of the primary on `primary_port`."""
        for port, process in self.processes.items():
            if port == primary_port or process.poll() is not None:
                continue
            role = self.node(port).execute_command("ROLE")
            if role[0] == b"slave" and int(role[2]) == primary_port:
                return port
        raise AssertionError(f"no replica of {primary_port}")

    def kill(self, port: int) -> None:
        process = self.processes[port]
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def tools_missing() -> str | None:
    """Why a local cluster cannot be started here, or None."""
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


class PortTaken(Exception):
    """A node could not listen on its port."""


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _until(check: object, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if callable(check) and check():
                return
        except redis.RedisError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")
