"""A hostile source of truth on raw sockets: slow headers, compression bombs, huge echoes."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.source_http import HttpSourceOfTruth

from .batches import drifted
from .conftest import SidecarFactory, sidecar_env
from .delivery import deliver
from .evil_sot import pristine_invoice
from .raw_http import RawHttpServer, respond

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


def drip_headers(connection: socket.socket, head: bytes, closing: threading.Event) -> None:
    """A status line, then header bytes one every 0.5 s, for up to a minute."""
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(120):
        if closing.wait(0.5):
            return
        connection.sendall(b"X")


@pytest.fixture
def slow_headers() -> Iterator[RawHttpServer]:
    holder: list[RawHttpServer] = []
    server = RawHttpServer(lambda conn, head: drip_headers(conn, head, holder[0].closing))
    holder.append(server)
    yield server
    server.close()


def test_slow_headers_do_not_hold_fetch_past_its_budget(slow_headers: RawHttpServer) -> None:
    source = HttpSourceOfTruth(slow_headers.url, timeout_s=2.0, max_attempts=3)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="deadline"):
        source.fetch_many(["INV-1"], budget_s=1.5)
    elapsed = time.monotonic() - started
    source.close()
    assert elapsed < 2.5, f"fetch_many(budget_s=1.5) took {elapsed:.1f} s"


def test_slow_headers_do_not_hold_the_batch_past_the_invocation(
    slow_headers: RawHttpServer,
    make_sidecar: SidecarFactory,
    unique_keys: dict[str, str],
    redis_url: str,
) -> None:
    env = {**sidecar_env(unique_keys, redis_url, slow_headers.url), "AOS_SOT_MAX_ATTEMPTS": "3"}
    sidecar = make_sidecar(env)
    items = [("needs-source", drifted(7))]
    started = time.monotonic()
    outcome = deliver(sidecar, items, budget_ms=3_000)
    elapsed = time.monotonic() - started
    assert outcome.failed == ["needs-source"]
    assert elapsed < 3.0, f"a batch with 3 s left took {elapsed:.1f} s"


GZIP_BOMB = gzip.compress(b"[" + b" " * 50_000_000 + b"]")


def answer_gzip_bomb(connection: socket.socket, head: bytes) -> None:
    respond(
        connection,
        "200 OK",
        GZIP_BOMB,
        "Content-Type: application/json",
        "Content-Encoding: gzip",
    )


def assert_bomb_refused_unread(make_source: Callable[[str], Any], match: str | None = None) -> None:
    """The source built by `make_source(url)` refuses a gzip bomb without inflating it, having
    asked for an identity (uncompressed) answer."""
    server = RawHttpServer(answer_gzip_bomb)
    source = make_source(server.url)
    tracemalloc.start()
    try:
        with pytest.raises(SourceUnavailable, match=match):
            source.fetch_many(["INV-1"], budget_s=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        source.close()
        server.close()
    assert peak < 4_000_000, f"peak {peak} bytes while refusing a {len(GZIP_BOMB)}-byte answer"
    assert b"\r\naccept-encoding: identity\r\n" in server.heads[0].lower()


def test_compressed_answer_is_refused_unread_and_identity_is_asked_for() -> None:
    assert_bomb_refused_unread(
        lambda url: HttpSourceOfTruth(url, max_attempts=1), match="Content-Encoding 'gzip'"
    )


def padded_answer(connection: socket.socket, head: bytes) -> None:
    ids = head.split(b"ids=", 1)[1].split(b" ", 1)[0].decode().split(",")
    body = json.dumps([pristine_invoice(i) for i in ids]).encode() + b" " * 400_000
    respond(connection, "200 OK", body, "Content-Type: application/json")


def test_answers_of_one_call_are_capped_together() -> None:
    server = RawHttpServer(padded_answer)
    source = HttpSourceOfTruth(
        server.url, chunk_size=1, concurrency=1, max_attempts=1, max_call_bytes=1_000_000
    )
    try:
        answered = source.fetch_many([f"INV-{n}" for n in range(1, 5)], budget_s=10)
    finally:
        source.close()
        server.close()
    assert 1 <= len(answered) < 4, "four 400 KB answers fitted a 1 MB allowance"


def huge_error_code(connection: socket.socket, head: bytes) -> None:
    code = "E" * 1_000_000
    body = json.dumps([{"errorCode": code, "message": "x"}]).encode()
    respond(connection, "400 Bad Request", body, "Content-Type: application/json")


def code_with_newline(connection: socket.socket, head: bytes) -> None:
    body = json.dumps([{"errorCode": "BAD\nFORGED log line", "message": "x"}]).encode()
    respond(connection, "400 Bad Request", body, "Content-Type: application/json")


def huge_invoice_id(connection: socket.socket, head: bytes) -> None:
    body = json.dumps([{"invoice_id": "I" * 7_000_000}]).encode()
    respond(connection, "200 OK", body, "Content-Type: application/json")


def huge_location(connection: socket.socket, head: bytes) -> None:
    respond(connection, "302 Found", b"", f"Location: http://x/{'L' * 60_000}")


@pytest.mark.parametrize(
    "answer", [huge_error_code, code_with_newline, huge_invoice_id, huge_location]
)
def test_what_the_source_says_is_echoed_short_and_well_formed(answer: Any) -> None:
    server = RawHttpServer(answer)
    source = HttpSourceOfTruth(server.url, max_attempts=1)
    try:
        with pytest.raises(SourceUnavailable) as caught:
            source.fetch_many(["INV-1"], budget_s=5)
    finally:
        source.close()
        server.close()
    message = str(caught.value)
    assert len(message) < 300, f"{len(message)}-character error message"
    assert "\n" not in message and "FORGED" not in message


def salesforce_source(url: str, **calls: Any) -> Any:
    from sidecar_fn.salesforce_auth import static_credentials
    from sidecar_fn.salesforce_fields import field_mapping
    from sidecar_fn.schema import load_schema
    from sidecar_fn.source_calls import SourceCalls
    from sidecar_fn.source_salesforce import SalesforceSourceOfTruth

    return SalesforceSourceOfTruth(
        url,
        static_credentials("key", "secret"),
        field_mapping(load_schema("sidecar_fn/schemas/invoice_full.json"), "Invoice_Number__c"),
        calls=SourceCalls(**calls),
    )


def test_slow_headers_do_not_hold_a_salesforce_login_past_its_budget(
    slow_headers: RawHttpServer,
) -> None:
    source = salesforce_source(slow_headers.url, timeout_s=2.0, max_attempts=3)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable):
        source.fetch_many(["INV-1"], budget_s=1.5)
    elapsed = time.monotonic() - started
    source.close()
    assert elapsed < 2.5, f"fetch_many(budget_s=1.5) took {elapsed:.1f} s"


def test_a_compressed_salesforce_answer_is_refused_unread() -> None:
    assert_bomb_refused_unread(lambda url: salesforce_source(url, max_attempts=1))
