"""The farm stream client over a fake transport: pages, errors, token."""

from __future__ import annotations

import httpx
import pytest

from local.farm_stream import FarmError, FarmStream, FarmUnavailable, parse_page


def stream_with(handler) -> FarmStream:  # type: ignore[no-untyped-def]
    return FarmStream(
        "http://farm.test/",
        chaos=True,
        seed=4,
        token="s3cret",
        transport=httpx.MockTransport(handler),
    )


def test_a_page_is_requested_with_the_run_parameters_and_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"records": [{"sequence": 7, "data": "{}"}], "next_cursor": 8}
        )

    page = stream_with(handler).fetch(7, 1)
    assert [(r.sequence, r.data) for r in page.records] == [(7, "{}")]
    assert page.next_cursor == 8
    [request] = seen
    assert request.url.path == "/api/stream"
    assert dict(request.url.params) == {"chaos": "true", "seed": "4", "cursor": "7", "limit": "1"}
    assert request.headers["Authorization"] == "Bearer s3cret"


def test_client_errors_carry_the_salesforce_error_code() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json=[{"errorCode": "INVALID_QUERY_PARAMETER", "message": "x"}])

    with pytest.raises(FarmError, match="400: INVALID_QUERY_PARAMETER") as info:
        stream_with(handler).fetch(0, 1)
    assert not isinstance(info.value, FarmUnavailable)


def test_server_errors_and_transport_errors_are_unavailable() -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="busy")

    with pytest.raises(FarmUnavailable, match="503"):
        stream_with(busy).fetch(0, 1)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(FarmUnavailable, match=r"farm unreachable at http://farm\.test"):
        stream_with(refused).fetch(0, 1)


def test_a_body_that_is_not_json_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>")

    with pytest.raises(FarmError, match="not JSON"):
        stream_with(handler).fetch(0, 1)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"records": [], "next_cursor": "1"},
        {"records": {}, "next_cursor": 1},
        {"records": [1], "next_cursor": 1},
        {"records": [{"sequence": "0", "data": ""}], "next_cursor": 1},
        {"records": [{"sequence": 0, "data": 5}], "next_cursor": 1},
    ],
)
def test_malformed_pages_are_refused(body: object) -> None:
    with pytest.raises(FarmError):
        parse_page(body)
