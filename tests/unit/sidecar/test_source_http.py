"""HttpSourceOfTruth against an in-memory httpx transport (no sockets)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import httpx
import orjson
import pytest

from sidecar_fn.breaker import CircuitBreaker
from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.source_http import HttpSourceOfTruth

from .fakes import pristine

Handler = Callable[[httpx.Request], httpx.Response]


class Farm:
    """A scripted batch route: answers from `pristine`, or from queued responses first."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.queued: list[Handler] = []
        self.unknown: set[str] = set()

    def ids(self, request: httpx.Request) -> list[str]:
        return parse_qs(request.url.query.decode())["ids"][0].split(",")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.queued:
            return self.queued.pop(0)(request)
        body = [None if i in self.unknown else pristine(i) for i in self.ids(request)]
        return httpx.Response(200, content=orjson.dumps(body))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make(farm: Farm, clock: Clock | None = None, **kwargs: object) -> HttpSourceOfTruth:
    clock = clock or Clock()
    options: dict[str, object] = {
        "transport": httpx.MockTransport(farm),
        "clock": clock,
        "sleep": clock.sleep,
        "jitter": lambda: 1.0,
        **kwargs,
    }
    return HttpSourceOfTruth("http://farm.test", **options)  # type: ignore[arg-type]


def error(status: int, code: str) -> Handler:
    return lambda request: httpx.Response(
        status, content=orjson.dumps([{"errorCode": code, "message": "x"}])
    )


def test_fetches_aligned_records_and_unknown_ids() -> None:
    farm = Farm()
    farm.unknown = {"INV-9"}
    source = make(farm)
    answer = source.fetch_many(["INV-1", "INV-9", "INV-1"])
    assert answer == {"INV-1": pristine("INV-1"), "INV-9": None}
    assert len(farm.requests) == 1
    request = farm.requests[0]
    assert request.url.path == "/api/source/salesforce/invoices"
    assert farm.ids(request) == ["INV-1", "INV-9"]


def test_chunks_of_at_most_200_ids_fetched_concurrently() -> None:
    farm = Farm()
    source = make(farm, concurrency=3)
    ids = [f"INV-{n}" for n in range(1, 451)]
    answer = source.fetch_many(ids)
    assert set(answer) == set(ids)
    sizes = sorted(len(farm.ids(r)) for r in farm.requests)
    assert sizes == [50, 200, 200]
    source.close()


def test_invalid_ids_never_reach_a_url() -> None:
    farm = Farm()
    source = make(farm)
    hostile = ["../INV-1", "INV-1%2F", "INV-1\r\nX: y", "INV-\u0661", "INV-1,INV-2"]
    answer = source.fetch_many([*hostile, "INV-3"])
    assert all(answer[i] is None for i in hostile)
    assert [farm.ids(r) for r in farm.requests] == [["INV-3"]]
    assert make(Farm()).fetch_many(hostile) == dict.fromkeys(hostile)


def test_token_and_connection_headers() -> None:
    farm = Farm()
    make(farm, token="tok").fetch_many(["INV-1"])
    make(farm, keepalive=True).fetch_many(["INV-1"])
    with_token, keepalive = farm.requests
    assert with_token.headers["authorization"] == "Bearer tok"
    assert with_token.headers["connection"] == "close"
    assert "authorization" not in keepalive.headers
    assert keepalive.headers.get("connection") != "close"


@pytest.mark.parametrize(
    "failure",
    [
        error(503, "SERVER_UNAVAILABLE"),
        error(500, "UNKNOWN_EXCEPTION"),
        error(403, "REQUEST_LIMIT_EXCEEDED"),
        error(429, "TOO_MANY"),
        lambda request: httpx.Response(200, content=b"<html>garbage"),
        lambda request: httpx.Response(200, content=b'[{"invoice_id": "INV-1"'),
        lambda request: httpx.Response(200, content=b"[]"),
        lambda request: httpx.Response(200, content=orjson.dumps([pristine("INV-2")])),
    ],
)
def test_retryable_failures_are_retried_with_backoff(failure: Handler) -> None:
    farm = Farm()
    farm.queued = [failure, failure]
    clock = Clock()
    source = make(farm, clock, max_attempts=3, backoff_s=0.05)
    assert source.fetch_many(["INV-1"]) == {"INV-1": pristine("INV-1")}
    assert len(farm.requests) == 3
    assert clock.sleeps == [0.05, 0.1]


def test_transport_errors_are_retried() -> None:
    farm = Farm()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    farm.queued = [refuse, slow]
    assert make(farm).fetch_many(["INV-1"]) == {"INV-1": pristine("INV-1")}


def test_gives_up_after_bounded_attempts() -> None:
    farm = Farm()
    farm.queued = [error(503, "SERVER_UNAVAILABLE")] * 5
    source = make(farm, max_attempts=3)
    with pytest.raises(SourceUnavailable, match=r"3 attempt.*HTTP 503 SERVER_UNAVAILABLE"):
        source.fetch_many(["INV-1"])
    assert len(farm.requests) == 3


@pytest.mark.parametrize(
    "failure",
    [
        error(400, "MALFORMED_ID"),
        error(401, "INVALID_SESSION_ID"),
        lambda request: httpx.Response(302, headers={"location": "http://evil.test/x"}),
    ],
)
def test_refusals_and_redirects_are_not_retried(failure: Handler) -> None:
    farm = Farm()
    farm.queued = [failure]
    with pytest.raises(SourceUnavailable):
        make(farm).fetch_many(["INV-1"])
    assert len(farm.requests) == 1


def test_redirect_is_not_followed() -> None:
    farm = Farm()
    farm.queued = [lambda r: httpx.Response(307, headers={"location": "http://evil.test/"})]
    with pytest.raises(SourceUnavailable, match=re.escape("not following 'http://evil.test/'")):
        make(farm).fetch_many(["INV-1"])
    assert [r.url.host for r in farm.requests] == ["farm.test"]


def test_deadline_bounds_retries() -> None:
    farm = Farm()
    farm.queued = [error(503, "SERVER_UNAVAILABLE")] * 10
    clock = Clock()
    source = make(farm, clock, max_attempts=10, backoff_s=0.4)
    with pytest.raises(SourceUnavailable, match="deadline"):
        source.fetch_many(["INV-1"], budget_s=1.0)
    assert clock.now < 1.0
    assert len(farm.requests) == 2
    with pytest.raises(SourceUnavailable, match="deadline"):
        source.fetch_many(["INV-1"], budget_s=0.0)


def test_one_failed_chunk_leaves_its_ids_out() -> None:
    farm = Farm()
    farm.queued = [error(401, "INVALID_SESSION_ID")]
    source = make(farm, concurrency=1)
    ids = [f"INV-{n}" for n in range(1, 301)]
    answer = source.fetch_many(ids)
    assert set(answer) == set(ids[200:])


def test_circuit_opens_and_then_costs_no_request() -> None:
    farm = Farm()
    farm.queued = [error(503, "SERVER_UNAVAILABLE")] * 4
    clock = Clock()
    breaker = CircuitBreaker(2, 30.0, clock=clock)
    source = make(farm, clock, max_attempts=2, breaker=breaker)
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            source.fetch_many(["INV-1"])
    sent = len(farm.requests)
    with pytest.raises(
        SourceUnavailable, match=r"circuit is open .*\(last: .*HTTP 503 SERVER_UNAVAILABLE\)"
    ):
        source.fetch_many(["INV-1"])
    assert len(farm.requests) == sent
    clock.now += 30.0
    assert source.fetch_many(["INV-1"]) == {"INV-1": pristine("INV-1")}
    assert not breaker.is_open


def test_oversized_body_is_refused() -> None:
    farm = Farm()
    farm.queued = [lambda r: httpx.Response(200, content=b"[" + b" " * (9 * 1024 * 1024) + b"]")]
    with pytest.raises(SourceUnavailable, match="exceeds"):
        make(farm).fetch_many(["INV-1"])


def test_drip_fed_answer_is_cut_at_the_deadline() -> None:
    clock = Clock()
    sent: list[int] = []

    def drip() -> Iterator[bytes]:
        for n, byte in enumerate(orjson.dumps([pristine("INV-1")])):
            clock.now += 0.125
            sent.append(n)
            yield bytes([byte])

    farm = Farm()
    farm.queued = [lambda request: httpx.Response(200, content=drip())]
    source = make(farm, clock, max_attempts=5)
    with pytest.raises(SourceUnavailable, match="deadline reached while its answer"):
        source.fetch_many(["INV-1"], budget_s=1.0)
    assert len(sent) == 8
    assert len(farm.requests) == 1


def test_backoff_doubles_up_to_its_cap_of_one_second() -> None:
    farm = Farm()
    farm.queued = [error(503, "SERVER_UNAVAILABLE")] * 6
    clock = Clock()
    source = make(farm, clock, max_attempts=6, backoff_s=0.3, default_budget_s=60.0)
    with pytest.raises(SourceUnavailable, match="6 attempt"):
        source.fetch_many(["INV-1"])
    assert clock.sleeps == [0.3, 0.6, 1.0, 1.0, 1.0]
