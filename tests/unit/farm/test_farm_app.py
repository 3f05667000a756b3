"""Every farm route and error through `chalice.test.Client`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from app import create_app
from chalice.test import Client
from chalicelib.catalogue import pristine_invoice
from chalicelib.chaos import ChaosRates, record_at, stream_page
from chalicelib.config import FarmConfig
from chalicelib.faults import FaultInjector
from chalicelib.field_drift import KINDS
from chalicelib.ids import is_valid_invoice_id
from hypothesis import given, settings
from hypothesis import strategies as st

ClientFactory = Callable[..., Client]

INVOICE = "/api/source/salesforce/invoice/"
INVOICES = "/api/source/salesforce/invoices?ids="
STREAM = "/api/stream"
API_PATHS = [INVOICE + "INV-1", INVOICES + "INV-1", STREAM, STREAM + "?limit=1&chaos=true"]


def body(response: Any) -> Any:
    assert response.headers["Content-Type"] == "application/json"
    return orjson.loads(response.body)


def assert_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status
    errors = body(response)
    assert isinstance(errors, list) and len(errors) == 1
    assert set(errors[0]) == {"errorCode", "message"}
    assert errors[0]["errorCode"] == code
    message: str = errors[0]["message"]
    assert message
    return message


def test_index_lists_the_routes(client: Client) -> None:
    response = client.http.get("/")
    assert response.status_code == 200
    assert len(body(response)["routes"]) == 9


@pytest.mark.parametrize("number", [1, 102, 999_999, 1_000_000])
def test_invoice_is_the_pristine_record_every_time(client: Client, number: int) -> None:
    first = client.http.get(f"{INVOICE}INV-{number}")
    second = client.http.get(f"{INVOICE}INV-{number}")
    assert first.status_code == 200
    assert body(first) == pristine_invoice(number)
    assert first.body == second.body


@pytest.mark.parametrize("value", ["INV-0", "INV-1000001", "INV-000001", "INV-999999999999"])
def test_unknown_invoice_is_404(client: Client, value: str) -> None:
    assert value in assert_error(client.http.get(INVOICE + value), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "segment",
    [
        "..",
        "..%2F..%2Fetc%2Fpasswd",
        "INV-1%2F",
        "%2e%2e",
        "INV-1%00",
        "INV-1\x00",
        "INV-1%0D%0ASet-Cookie:x",
        "INV-%D9%A1",
        "INV-\u0661",
        "INV-\uff11",
        "inv-1",
        "INV-1234567890123",
        "INV-" + "1" * 5000,
        "%" * 300,
        "INV-1:2",
    ],
)
def test_hostile_invoice_ids_are_malformed(client: Client, segment: str) -> None:
    message = assert_error(client.http.get(INVOICE + segment), 400, "MALFORMED_ID")
    assert len(message) < 200


def test_batch_is_aligned_with_ids(client: Client) -> None:
    response = client.http.get(INVOICES + "INV-5,INV-0,INV-7,INV-5,INV-2000000")
    assert response.status_code == 200
    five, seven = pristine_invoice(5), pristine_invoice(7)
    assert body(response) == [five, None, seven, five, None]


def test_batch_of_200_answers_and_201_is_limit_exceeded(client: Client) -> None:
    ids = ",".join(f"INV-{n}" for n in range(1, 202))
    assert len(body(client.http.get(INVOICES + ids.rsplit(",", 1)[0]))) == 200
    assert_error(client.http.get(INVOICES + ids), 400, "LIMIT_EXCEEDED")


@pytest.mark.parametrize("ids", ["INV-1,..%2F", "INV-1,", "INV-1,INV-%D9%A1", "x"])
def test_batch_with_a_malformed_id_is_400(client: Client, ids: str) -> None:
    assert_error(client.http.get(INVOICES + ids), 400, "MALFORMED_ID")


def test_batch_without_ids_is_400(client: Client) -> None:
    message = assert_error(
        client.http.get("/api/source/salesforce/invoices"), 400, "INVALID_QUERY_PARAMETER"
    )
    assert "ids" in message


def test_stream_defaults(client: Client) -> None:
    page = body(client.http.get(STREAM))
    assert page["next_cursor"] == 100
    assert [record["sequence"] for record in page["records"]] == list(range(100))
    assert all(
        orjson.loads(r["data"]) == pristine_invoice(r["sequence"] + 1) for r in page["records"]
    )


def test_stream_pages_are_identical_bytes(client: Client) -> None:
    path = STREAM + "?chaos=true&cursor=5000&limit=1000&seed=7"
    first, second = client.http.get(path), client.http.get(path)
    assert first.status_code == 200
    assert first.body == second.body
    page = body(first)
    assert page["next_cursor"] == 6000 and len(page["records"]) == 1000


def test_stream_rate_overrides(client: Client) -> None:
    page = body(client.http.get(STREAM + "?chaos=true&limit=200&drift_rate=0&malformed_rate=1"))
    for record in page["records"]:
        try:
            value = orjson.loads(record["data"])
        except orjson.JSONDecodeError:
            continue
        assert not isinstance(value, dict)


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "cursor=-1", "seed=abc", "chaos=maybe", "drift_rate=2",
     "malformed_rate=0.6&drift_rate=0.6", "limit=1&limit=2", "bogus=1"],
)  # fmt: skip
def test_bad_stream_parameters_are_400(client: Client, query: str) -> None:
    assert_error(client.http.get(f"{STREAM}?{query}"), 400, "INVALID_QUERY_PARAMETER")


@pytest.mark.parametrize("path", API_PATHS)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"X": "s3cret"}])
def test_token_guards_every_api_route(
    make_client: ClientFactory, path: str, headers: dict[str, str]
) -> None:
    client = make_client(FarmConfig(api_token="s3cret"))
    response = client.http.get(path, headers=headers)
    assert_error(response, 401, "INVALID_SESSION_ID")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert b"s3cret" not in response.body


@pytest.mark.parametrize("path", API_PATHS)
def test_the_right_token_passes(make_client: ClientFactory, path: str) -> None:
    client = make_client(FarmConfig(api_token="s3cret"))
    assert client.http.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_index_needs_no_token(make_client: ClientFactory) -> None:
    assert make_client(FarmConfig(api_token="s3cret")).http.get("/").status_code == 200


def test_failure_rate_one_fails_source_of_truth_routes_only(make_client: ClientFactory) -> None:
    client = make_client(FarmConfig(sot_failure_rate=1.0))
    assert_error(client.http.get(INVOICE + "INV-1"), 503, "SERVER_UNAVAILABLE")
    assert_error(client.http.get(INVOICES + "INV-1"), 503, "SERVER_UNAVAILABLE")
    assert client.http.get(STREAM).status_code == 200


def test_latency_applies_to_source_of_truth_routes_only(make_client: ClientFactory) -> None:
    slept: list[float] = []
    client = make_client(faults=FaultInjector(0.0, 150, sleep=slept.append))
    client.http.get(INVOICE + "INV-1")
    client.http.get(INVOICES + "INV-1,INV-2")
    client.http.get(STREAM)
    assert slept == [0.15, 0.15]


def test_unexpected_errors_answer_salesforce_shaped_500(make_client: ClientFactory) -> None:
    def broken_roll() -> float:
        raise RuntimeError("boom")

    client = make_client(faults=FaultInjector(0.5, 0, roll=broken_roll))
    response = client.http.get(INVOICE + "INV-1")
    assert "boom" not in assert_error(response, 500, "UNKNOWN_EXCEPTION")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_in_salesforce_shape(client: Client, method: str) -> None:
    response = client.http.request(method, STREAM)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "GET"


def test_unknown_routes_answer_json(client: Client) -> None:
    response = client.http.get("/api/nothing/here")
    assert response.status_code == 403
    assert orjson.loads(response.body) == {"message": "Missing Authentication Token"}


@settings(max_examples=30, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=1, max_value=200),
)
def test_stream_route_serves_the_generated_page(seed: int, cursor: int, limit: int) -> None:
    client = Client(create_app(FarmConfig()))
    response = client.http.get(f"{STREAM}?chaos=true&seed={seed}&cursor={cursor}&limit={limit}")
    config = FarmConfig()
    rates = ChaosRates(config.drift_rate, config.malformed_rate, config.unrepairable_share)
    assert response.body == stream_page(seed, True, cursor, limit, rates, config.catalogue_size)


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**63 - 1), st.integers(min_value=0, max_value=10**9))
def test_stream_objects_agree_with_the_batch_route_on_every_carried_field(
    seed: int, cursor: int
) -> None:
    client = Client(create_app(FarmConfig()))
    only_missing_or_null = "&renamed_share=0&string_number_share=0&case_share=0&empty_share=0"
    page = body(
        client.http.get(
            f"{STREAM}?chaos=true&seed={seed}&cursor={cursor}&limit=200{only_missing_or_null}"
        )
    )
    objects = []
    for record in page["records"]:
        try:
            value = orjson.loads(record["data"])
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("invoice_id"), str):
            objects.append(value)
    truths = body(client.http.get(INVOICES + ",".join(v["invoice_id"] for v in objects)))
    assert len(truths) == len(objects)
    for value, truth in zip(objects, truths, strict=True):
        if truth is None:
            continue
        carried = {field: v for field, v in value.items() if v is not None}
        assert carried == {field: truth[field] for field in carried}


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.from_regex(r"INV-[0-9]{1,13}", fullmatch=True),
        st.text(alphabet=st.characters(blacklist_characters="/?#;\t\r\n"), min_size=1),
    )
)
def test_any_invoice_segment_answers_200_404_or_400_never_500(segment: str) -> None:
    client = Client(create_app(FarmConfig()))
    response = client.http.get(INVOICE + segment)
    expected = {200, 404} if is_valid_invoice_id(segment) else {400}
    assert response.status_code in expected
    assert isinstance(orjson.loads(response.body), dict | list)


def test_stream_serves_the_drift_kinds_its_records_say() -> None:
    client = Client(create_app(FarmConfig()))
    page = body(client.http.get(f"{STREAM}?chaos=true&drift_rate=1&malformed_rate=0&limit=300"))
    rates = ChaosRates(1.0, 0.0, FarmConfig().unrepairable_share, FarmConfig().kind_shares)
    kinds: set[str] = set()
    for served in page["records"]:
        record = record_at(0, True, served["sequence"], rates, FarmConfig().catalogue_size)
        assert served["data"] == record.data
        kinds.update(record.drift_kinds)
    assert kinds == set(KINDS)
