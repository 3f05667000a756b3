"""A hostile source of truth (and a recording bystander) served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

VALID_ID = re.compile(r"INV-[0-9]{1,12}", re.ASCII)
KNOWN_LIMIT = 1_000_000
BATCH_PATH = "/api/source/salesforce/invoices"
SINGLE_PREFIX = "/api/source/salesforce/invoice/"

BEHAVIOURS = frozenset(
    {
        "ok",
        "limit",
        "unavailable",
        "unauthorized",
        "wrong_invoice",
        "garbage",
        "truncated_json",
        "short_body",
        "drop",
        "redirect",
        "slow",
        "not_array",
        "wrong_length",
        "lacks_fields",
        "every_other",
        "drip",
        "mistyped",
        "scripted",
    }
)


def invoice_number(invoice_id: str) -> int | None:
    """The number of a well-formed id (`INV-` + 1..12 ASCII digits), else None."""
    if VALID_ID.fullmatch(invoice_id) is None:
        return None
    return int(invoice_id[4:])


def pristine_invoice(invoice_id: str) -> dict[str, Any] | None:
    """The pristine invoice this source of truth holds for `invoice_id`, None if unknown."""
    number = invoice_number(invoice_id)
    if number is None or number >= KNOWN_LIMIT:
        return None
    digest = hashlib.sha256(invoice_id.encode()).digest()
    return {
        "invoice_id": invoice_id,
        "vendor_id": f"VEND-{digest[0] * 256 + digest[1]:05d}",
        "vendor_name": f"Vendor {digest[2]:03d} GmbH",
        "total_amount": round(int.from_bytes(digest[3:6], "big") / 100, 2),
        "currency": "EUR",
        "status": ("DRAFT", "SUBMITTED", "APPROVED", "PAID", "VOID")[digest[6] % 5],
        "issue_date": f"2026-{digest[7] % 12 + 1:02d}-{digest[8] % 28 + 1:02d}",
        "billing_address": {
            "street": f"{digest[9]} Main Street",
            "city": "Berlin",
            "postal_code": f"{digest[10] * 100 + digest[11]:05d}",
            "country": "DE",
        },
        "last_modified": "2026-11-01T00:00:00Z",
    }


@dataclass(frozen=True)
class SeenRequest:
    """One HTTP request as the server received it."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]

    @property
    def ids(self) -> list[str]:
        """The invoice ids this request asked for (batch or single route)."""
        if self.path == BATCH_PATH:
            values = parse_qs(self.query, keep_blank_values=True).get("ids", [])
            return [part for value in values for part in value.split(",")]
        if self.path.startswith(SINGLE_PREFIX):
            return [self.path[len(SINGLE_PREFIX) :]]
        return []


def _error(code: str, message: str) -> bytes:
    return json.dumps([{"errorCode": code, "message": message}]).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: RecordingServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.owner.handle(self)

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

    def send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        """Answer with a complete JSON response."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class RecordingServer:
    """An HTTP server that records every request and answers 404 (the bystander)."""

    def __init__(self, host: str = "127.0.0.1"):
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self.host = host
        self.port = int(self._server.server_address[1])
        self._lock = threading.Lock()
        self._requests: list[SeenRequest] = []
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL, no trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[SeenRequest]:
        """A snapshot of every request received so far."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._requests.clear()

    def record(self, handler: _Handler) -> SeenRequest:
        """Store one request and return it."""
        split = urlsplit(handler.path)
        seen = SeenRequest(
            method=handler.command,
            path=split.path,
            query=split.query,
            headers={key.lower(): value for key, value in handler.headers.items()},
        )
        with self._lock:
            self._requests.append(seen)
        return seen

    def handle(self, handler: _Handler) -> None:
        """Record and answer 404."""
        self.record(handler)
        handler.send(404, _error("NOT_FOUND", "nothing here"))

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class EvilSourceOfTruth(RecordingServer):
    """A source of truth whose answers a test switches between honest and hostile."""

    def __init__(self, *, token: str | None = None, redirect_to: str | None = None):
        super().__init__("127.0.0.1")
        self.behaviour = "ok"
        self.token = token
        self.redirect_to = redirect_to
        self.delay_seconds = 0.0
        self._answered = 0
        self.responder: Callable[[list[str]], tuple[int, bytes]] | None = None
        self.drip_interval = 0.2
        self.drips_finished = 0
        self.drips_abandoned = 0
        self._closing = threading.Event()

    def set(self, behaviour: str) -> None:
        """Switch the answer every following request gets."""
        if behaviour not in BEHAVIOURS:
            raise ValueError(behaviour)
        self.behaviour = behaviour

    def unintended(self) -> list[SeenRequest]:
        """Requests outside the two source-of-truth routes, or asking for an ill-formed id."""
        bad = []
        for seen in self.requests:
            on_route = seen.path == BATCH_PATH or seen.path.startswith(SINGLE_PREFIX)
            ids_ok = bool(seen.ids) and all(VALID_ID.fullmatch(i) for i in seen.ids)
            if seen.method != "GET" or not on_route or not ids_ok:
                bad.append(seen)
        return bad

    def handle(self, handler: _Handler) -> None:
        """Answer as the current behaviour says."""
        seen = self.record(handler)
        if self.token is not None and seen.headers.get("authorization") != f"Bearer {self.token}":
            handler.send(401, _error("INVALID_SESSION_ID", "Session expired or invalid"))
            return
        behaviour = self.behaviour
        if behaviour == "every_other":
            with self._lock:
                self._answered += 1
                behaviour = "unavailable" if self._answered % 2 else "ok"
        if behaviour == "scripted" and self.responder is not None:
            handler.send(*self.responder(seen.ids))
            return
        if behaviour == "slow":
            time.sleep(self.delay_seconds)
        if behaviour == "limit":
            handler.send(403, _error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
        elif behaviour == "unavailable":
            handler.send(503, _error("SERVER_UNAVAILABLE", "try later"))
        elif behaviour == "unauthorized":
            handler.send(401, _error("INVALID_SESSION_ID", "Session expired or invalid"))
        elif behaviour == "garbage":
            handler.send(200, b"<html><body>Maintenance \xff\xfe window</body></html>")
        elif behaviour == "drop":
            handler.close_connection = True
        elif behaviour == "short_body":
            body = self._answer(seen)[1]
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body) + 500))
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True
        elif behaviour == "drip":
            self._drip(handler, self._answer(seen)[1])
        elif behaviour == "redirect":
            target = self.redirect_to or "http://127.0.0.2:9"
            location = f"{target}{seen.path}" + (f"?{seen.query}" if seen.query else "")
            handler.send(302, b"[]", {"Location": location})
        else:
            status, body = self._answer(seen)
            handler.send(status, body)

    def _drip(self, handler: _Handler, body: bytes) -> None:
        """Send a complete answer one byte per `drip_interval`: each read is quick, the whole
        is not. Counts whether the client stayed to the end or hung up."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.close_connection = True
        try:
            for index in range(len(body)):
                if self._closing.wait(self.drip_interval):
                    return
                handler.wfile.write(body[index : index + 1])
                handler.wfile.flush()
        except OSError:
            with self._lock:
                self.drips_abandoned += 1
            return
        with self._lock:
            self.drips_finished += 1

    def close(self) -> None:
        """Stop serving and end any answer still dripping."""
        self._closing.set()
        super().close()

    def _answer(self, seen: SeenRequest) -> tuple[int, bytes]:
        """Status and body for a source-of-truth request under the current behaviour."""
        ids = seen.ids
        if seen.path not in (BATCH_PATH,) and not seen.path.startswith(SINGLE_PREFIX):
            return 404, _error("NOT_FOUND", "no such route")
        if not ids or any(invoice_number(invoice_id) is None for invoice_id in ids):
            return 400, _error("MALFORMED_ID", "malformed id")
        if len(ids) > 200:
            return 400, _error("LIMIT_EXCEEDED", "at most 200 ids")
        records = [self._record_for(invoice_id) for invoice_id in ids]
        behaviour = self.behaviour
        if behaviour == "not_array":
            return 200, json.dumps({"records": records}).encode()
        if behaviour == "wrong_length":
            records = records[:-1] if len(records) > 1 else [*records, records[0]]
        if seen.path.startswith(SINGLE_PREFIX):
            if records[0] is None:
                return 404, _error("NOT_FOUND", "unknown id")
            body = json.dumps(records[0]).encode()
        else:
            body = json.dumps(records).encode()
        if behaviour == "truncated_json":
            body = body[: max(1, len(body) * 2 // 3)]
        return 200, body

    def _record_for(self, invoice_id: str) -> dict[str, Any] | None:
        if self.behaviour == "wrong_invoice":
            number = invoice_number(invoice_id)
            assert number is not None
            return pristine_invoice(f"INV-{(number + 1) % KNOWN_LIMIT}")
        record = pristine_invoice(invoice_id)
        return degrade(record, self.behaviour)


def degrade(record: dict[str, Any] | None, behaviour: str) -> dict[str, Any] | None:
    """The record a `lacks_fields` or `mistyped` source answers in place of `record`."""
    if record is None:
        return None
    if behaviour == "lacks_fields":
        record = {**record, "vendor_id": None}
        del record["status"]
    elif behaviour == "mistyped":
        record = {**record, "vendor_id": 12345, "total_amount": "12.50", "status": ["PAID"]}
    return record


def loopback_alias_available() -> bool:
    """True when 127.0.0.2 can be bound (Linux routes all of 127/8 to loopback)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.2", 0))
    except OSError:
        return False
    return True


@contextmanager
def serving(server: RecordingServer) -> Iterator[RecordingServer]:
    """Close `server` on exit."""
    try:
        yield server
    finally:
        server.close()
