"""The farm over real HTTP: `chalice local` as a process, and the in-process launcher."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from chalicelib.catalogue import pristine_invoice
from chalicelib.chaos import ChaosRates, stream_page
from chalicelib.config import FarmConfig

from local.farm_server import FarmServer, FarmStartError, start_farm

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
INVOICE = "/api/source/salesforce/invoice/"
INVOICES = "/api/source/salesforce/invoices?ids="
STREAM = "/api/stream"
DEFAULTS = FarmConfig()
RATES = ChaosRates(DEFAULTS.drift_rate, DEFAULTS.malformed_rate, DEFAULTS.unrepairable_share)


@pytest.fixture(scope="module")
def plain_farm() -> Iterator[FarmServer]:
    """`chalice local` with no token and no faults."""
    with start_farm(env={}) as farm:
        yield farm


@pytest.fixture(scope="module")
def guarded_farm() -> Iterator[FarmServer]:
    """`chalice local` with a token, every source-of-truth request failing after a delay."""
    env = {"FARM_API_TOKEN": TOKEN, "FARM_SOT_FAILURE_RATE": "1", "FARM_SOT_LATENCY_MS": "20"}
    with start_farm(env=env) as farm:
        yield farm


def http(farm: FarmServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=farm.url, headers=headers, timeout=10)


def errors(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/json"
    return [error["errorCode"] for error in response.json()]


def test_chalice_local_serves_the_source_of_truth(plain_farm: FarmServer) -> None:
    with http(plain_farm) as client:
        for _ in range(3):
            response = client.get(INVOICE + "INV-102")
            assert response.status_code == 200
            assert response.json() == pristine_invoice(102)
        batch = client.get(INVOICES + "INV-1,INV-0,INV-2")
        assert batch.json() == [pristine_invoice(1), None, pristine_invoice(2)]
        missing = client.get(INVOICE + "INV-0")
        assert (missing.status_code, errors(missing)) == (404, ["NOT_FOUND"])


def test_chalice_local_serves_the_same_stream_as_the_generator(plain_farm: FarmServer) -> None:
    path = STREAM + "?chaos=true&cursor=300&limit=1000&seed=9"
    with http(plain_farm) as client:
        first, second = client.get(path), client.get(path)
    assert first.status_code == 200
    assert first.content == second.content
    assert first.content == stream_page(9, True, 300, 1000, RATES, DEFAULTS.catalogue_size)


@pytest.mark.parametrize(
    "segment",
    ["..%2F..%2Fetc%2Fpasswd", "INV-1%00", "INV-1%0D%0AX-Evil:%201", "INV-%D9%A1", "INV-1%2F",
     "INV-" + "9" * 3000],
)  # fmt: skip
def test_hostile_ids_over_http_are_malformed(plain_farm: FarmServer, segment: str) -> None:
    with http(plain_farm) as client:
        response = client.get(INVOICE + segment)
    assert (response.status_code, errors(response)) == (400, ["MALFORMED_ID"])
    assert "X-Evil" not in response.headers


def test_http_errors_are_json(plain_farm: FarmServer) -> None:
    with http(plain_farm) as client:
        too_many = client.get(INVOICES + ",".join(f"INV-{n}" for n in range(1, 202)))
        bad_limit = client.get(STREAM + "?limit=5000")
        post = client.post(STREAM)
        unknown = client.get("/api/unknown")
    assert (too_many.status_code, errors(too_many)) == (400, ["LIMIT_EXCEEDED"])
    assert (bad_limit.status_code, errors(bad_limit)) == (400, ["INVALID_QUERY_PARAMETER"])
    assert (post.status_code, errors(post)) == (405, ["METHOD_NOT_ALLOWED"])
    assert unknown.status_code == 403 and "message" in unknown.json()


def test_token_is_required_on_every_api_route(guarded_farm: FarmServer) -> None:
    for token in (None, "wrong"):
        with http(guarded_farm, token) as client:
            for path in (INVOICE + "INV-1", INVOICES + "INV-1", STREAM):
                response = client.get(path)
                assert (response.status_code, errors(response)) == (401, ["INVALID_SESSION_ID"])
    with http(guarded_farm, TOKEN) as client:
        assert client.get(STREAM + "?limit=3").status_code == 200


def test_fault_injection_env_fails_source_of_truth_only(guarded_farm: FarmServer) -> None:
    with http(guarded_farm, TOKEN) as client:
        for path in (INVOICE + "INV-1", INVOICES + "INV-1,INV-2"):
            response = client.get(path)
            assert (response.status_code, errors(response)) == (503, ["SERVER_UNAVAILABLE"])
        assert client.get(STREAM).status_code == 200


def test_a_bad_environment_fails_to_start_with_the_reason() -> None:
    with pytest.raises(FarmStartError, match="FARM_SOT_FAILURE_RATE"):
        start_farm(env={"FARM_SOT_FAILURE_RATE": "often"})


def test_in_process_farm_answers_and_closes() -> None:
    farm = start_farm()
    try:
        with http(farm) as client:
            assert client.get(INVOICE + "INV-5").json() == pristine_invoice(5)
            page = client.get(STREAM + "?limit=1000&chaos=true").json()
            assert page["next_cursor"] == 1000
    finally:
        farm.close()
    farm.close()
    with pytest.raises(httpx.ConnectError), http(farm) as client:
        client.get("/")


def test_closing_the_in_process_farm_ends_open_keep_alive_connections() -> None:
    farm = start_farm()
    with http(farm) as client:
        assert client.get("/").status_code == 200
        farm.close()
        with pytest.raises(httpx.TransportError):
            client.get("/")


def test_in_process_farm_reads_the_current_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FARM_API_TOKEN", TOKEN)
    with start_farm() as farm, http(farm) as client:
        assert client.get(STREAM).status_code == 401
        assert client.get(STREAM, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_in_process_farm_on_a_busy_port_fails_clearly() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(FarmStartError, match="cannot listen"):
            start_farm(port=busy.getsockname()[1])
