"""Counters for the benchmark: Redis round trips per client and source-of-truth requests."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
from redis.connection import Connection

BATCH_ROUTE = "/api/source/salesforce/invoices"
SINGLE_ROUTE_PREFIX = "/api/source/salesforce/invoice/"


class RoundTripCounter:
    """Thread-safe count of request/response round trips sent on Redis connections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._round_trips = 0

    def add(self) -> None:
        """Count one round trip."""
        with self._lock:
            self._round_trips += 1

    @property
    def round_trips(self) -> int:
        """Round trips counted so far (connection handshakes excluded)."""
        with self._lock:
            return self._round_trips


class CountingConnection(Connection):
    """A redis-py connection that counts each packed send (one send = one round trip)."""

    counter: RoundTripCounter = RoundTripCounter()
    _handshaking = False

    def on_connect(self) -> None:
        """Run the connection handshake without counting it."""
        self._handshaking = True
        try:
            super().on_connect()  # type: ignore[no-untyped-call]
        finally:
            self._handshaking = False

    def on_connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        """The handshake as redis-py 8 runs it on connect (HELLO, CLIENT SETINFO ...),
        not counted either."""
        self._handshaking = True
        try:
            super().on_connect_check_health(*args, **kwargs)
        finally:
            self._handshaking = False

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send, then count the send unless it belongs to the handshake."""
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]
        if not self._handshaking:
            self.counter.add()


def counting_redis(url: str) -> tuple[redis.Redis, RoundTripCounter]:
    """A Redis client on `url` whose round trips are counted by the returned counter."""
    counter = RoundTripCounter()
    connection_class = type("BoundCountingConnection", (CountingConnection,), {"counter": counter})
    pool = redis.ConnectionPool.from_url(url, connection_class=connection_class)
    return redis.Redis(connection_pool=pool), counter


def commandstats(client: redis.Redis, field: str = "calls") -> dict[str, int]:
    """Per command name, `calls` (or `usec`, server time) from `INFO commandstats`."""
    info: dict[str, Any] = client.info("commandstats")
    values: dict[str, int] = {}
    for key, value in info.items():
        name = key.removeprefix("cmdstat_")
        values[name] = int(value[field]) if isinstance(value, dict) else 0
    return values


def commandstats_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands issued between two `commandstats` snapshots, zero entries dropped."""
    names = set(before) | set(after)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in names}
    return {name: calls for name, calls in sorted(delta.items()) if calls}


@dataclass
class SoTCounts:
    """Source-of-truth requests seen by the counting proxy."""

    batch_requests: int = 0
    batch_ids: int = 0
    single_requests: int = 0
    other_requests: int = 0
    upstream_seconds: float = 0.0
    """Time the farm took to answer the source-of-truth requests (through a fresh connection)."""

    @property
    def sot_requests(self) -> int:
        """Requests to either source-of-truth route."""
        return self.batch_requests + self.single_requests


class SoTCountingProxy:
    """An HTTP proxy in front of the farm that counts source-of-truth requests by route.

    Used only for counting passes: each request is forwarded on a fresh upstream
    connection and the answer relayed in one write, so counting does not change what
    the client sees.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._upstream_host = parts.hostname or "127.0.0.1"
        self._upstream_port = parts.port or 80
        self._lock = threading.Lock()
        self._counts = SoTCounts()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def counts(self) -> SoTCounts:
        """A snapshot of the counts so far."""
        with self._lock:
            return SoTCounts(**vars(self._counts))

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._counts = SoTCounts()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SoTCountingProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _record(self, path: str, seconds: float) -> None:
        parts = urlsplit(path)
        with self._lock:
            if parts.path.startswith("/api/source/"):
                self._counts.upstream_seconds += seconds
            if parts.path.rstrip("/") == BATCH_ROUTE:
                ids = parse_qs(parts.query).get("ids", [""])[0]
                self._counts.batch_requests += 1
                self._counts.batch_ids += len([i for i in ids.split(",") if i])
            elif parts.path.startswith(SINGLE_ROUTE_PREFIX):
                self._counts.single_requests += 1
            else:
                self._counts.other_requests += 1

    def _forward(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=60)
        try:
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            return response.status, body, response.getheader("Content-Type", "application/json")
        finally:
            conn.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                headers = {
                    key: value
                    for key, value in self.headers.items()
                    if key.lower() not in {"host", "connection", "keep-alive"}
                }
                start = time.perf_counter()
                status, body, content_type = proxy._forward("GET", self.path, headers)
                proxy._record(self.path, time.perf_counter() - start)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
