"""The sidecar against real Redis and the farm over real HTTP."""

from __future__ import annotations

import base64
import json
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from local.farm_server import FarmServer, start_farm
from sidecar_fn import handler as handler_module
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar
from tests.conftest import KeySpace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("quiet_metrics")]

EVENTS = Path(__file__).resolve().parents[1] / "events"
EXPECTED_FIELDS = ("invoice_id", "total_amount", "vendor_id", "status")
STATUSES = ("DRAFT", "SUBMITTED", "APPROVED", "PAID", "VOID")
ONLY_MISSING_OR_NULL = {
    "renamed_share": "0",
    "string_number_share": "0",
    "case_share": "0",
    "empty_share": "0",
}


class Context:
    """The part of Lambda's context the sidecar reads."""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_sidecar(keyspace: KeySpace, redis_url: str, farm_url: str, **env: str) -> IngestSidecar:
    environ = {**keyspace.env(), "REDIS_URL": redis_url, "FARM_URL": farm_url, **env}
    return build_sidecar(Settings.from_env(environ))


def stream_event(farm: FarmServer, *, seed: int, limit: int = 500, **params: str) -> dict[str, Any]:
    page = httpx.get(
        f"{farm.url}/api/stream",
        params={
            "chaos": "true",
            "cursor": "0",
            "limit": str(limit),
            "seed": str(seed),
            **params,
        },
    ).json()
    return {
        "Records": [
            {"messageId": f"seed{seed}-seq{r['sequence']}", "body": r["data"]}
            for r in page["records"]
        ]
    }


def drift_kind(body: str) -> str:
    """Independent classification of a stream record: clean, drifted or malformed."""
    try:
        value = json.loads(body)
    except ValueError:
        return "malformed"
    if not isinstance(value, dict):
        return "malformed"
    complete = all(_valid(name, value.get(name)) for name in EXPECTED_FIELDS)
    return "clean" if complete else "drifted"


def main_envelopes(client: redis.Redis, keyspace: KeySpace) -> list[dict[str, Any]]:
    return [orjson.loads(f[b"envelope"]) for _, f in client.xrange(keyspace.stream)]


def dead_letters(client: redis.Redis, keyspace: KeySpace) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in client.xrange(keyspace.dlq_stream)]


def test_chaos_page_every_record_in_one_place_and_repaired_from_truth(
    farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    event = stream_event(farm, seed=11)
    bodies = {r["messageId"]: r["body"] for r in event["Records"]}
    sidecar = make_sidecar(keyspace, redis_url, farm.url)
    report = sidecar.handle_batch(event, Context())

    assert report.failures == []
    main = main_envelopes(redis_client, keyspace)
    dlq = dead_letters(redis_client, keyspace)
    assert len(main) + len(dlq) == len(bodies)
    placed = [e["meta"]["item_id"] for e in main] + [d[b"item_id"].decode() for d in dlq]
    assert sorted(placed) == sorted(bodies)

    repaired = [e for e in main if e["meta"]["is_repaired"]]
    assert len(repaired) > 20
    with httpx.Client(base_url=farm.url) as http:
        for envelope in repaired:
            invoice_id = envelope["meta"]["record_id"]
            truth = http.get(f"/api/source/salesforce/invoice/{invoice_id}").json()
            payload = envelope["payload"]
            assert payload["vendor_id"] == truth["vendor_id"]
            for name in envelope["meta"]["repaired_fields"]:
                assert payload[name] == truth[name]
            original = json.loads(bodies[envelope["meta"]["item_id"]])
            assert envelope["meta"]["repaired_fields"] == [
                f for f in EXPECTED_FIELDS if not _valid(f, original.get(f))
            ]

    for envelope in main:
        kind = drift_kind(bodies[envelope["meta"]["item_id"]])
        assert kind != "malformed"
        assert envelope["meta"]["is_repaired"] == (kind == "drifted")
        assert drift_kind(orjson.dumps(envelope["payload"]).decode()) == "clean"

    malformed = {i for i, b in bodies.items() if drift_kind(b) == "malformed"}
    assert malformed
    assert malformed.isdisjoint(e["meta"]["item_id"] for e in main)
    for entry in dlq:
        item_id = entry[b"item_id"].decode()
        assert entry[b"raw"] == bodies[item_id].encode()
        expected_reason = "malformed" if item_id in malformed else "unrepairable"
        assert entry[b"reason"].decode() == expected_reason


def _valid(name: str, value: Any) -> bool:
    if name == "total_amount":
        return type(value) in (int, float)
    if name == "status":
        return value in STATUSES
    return isinstance(value, str) and value != ""


def test_same_batch_twice_adds_no_entries(
    farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    event = stream_event(farm, seed=12, limit=200)
    sidecar = make_sidecar(keyspace, redis_url, farm.url)
    first = sidecar.handle_batch(event, Context())
    lengths = redis_client.xlen(keyspace.stream), redis_client.xlen(keyspace.dlq_stream)
    again = make_sidecar(keyspace, redis_url, farm.url).handle_batch(event, Context())
    assert (redis_client.xlen(keyspace.stream), redis_client.xlen(keyspace.dlq_stream)) == lengths
    assert sum(lengths) == 200
    assert again.counts == first.counts
    assert again.duplicates == 200


@pytest.mark.parametrize("name", ["sqs_batch", "kinesis_batch"])
def test_lambda_handler_with_sample_events(
    name: str,
    farm: FarmServer,
    keyspace: KeySpace,
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {**keyspace.env(), "REDIS_URL": redis_url, "FARM_URL": farm.url}.items():
        monkeypatch.setenv(key, value)
    event = json.loads((EVENTS / f"{name}.json").read_text())
    expected = json.loads((EVENTS / "expected" / f"{name}.json").read_text())["expected"]
    handler_module.current_sidecar.cache_clear()
    try:
        assert handler_module.handler(event, Context()) == {"batchItemFailures": []}
    finally:
        handler_module.current_sidecar.cache_clear()
    outcomes = {
        e["meta"]["item_id"]: "repaired" if e["meta"]["is_repaired"] else "clean"
        for e in main_envelopes(redis_client, keyspace)
    }
    outcomes.update(
        {
            d[b"item_id"].decode(): d[b"reason"].decode()
            for d in dead_letters(redis_client, keyspace)
        }
    )
    assert outcomes == expected


@pytest.mark.parametrize("dead", ["closed port", "failure rate 1"])
def test_dead_source_of_truth_fails_drifted_back_and_pushes_nothing_unrepaired(
    dead: str, farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    event = stream_event(farm, seed=13, limit=300, **ONLY_MISSING_OR_NULL)
    bodies = {r["messageId"]: r["body"] for r in event["Records"]}
    drifted = [i for i, b in bodies.items() if drift_kind(b) == "drifted"]
    if dead == "closed port":
        sidecar = make_sidecar(keyspace, redis_url, closed_port_url())
        report = sidecar.handle_batch(event, Context())
    else:
        with start_farm(env={"FARM_SOT_FAILURE_RATE": "1"}) as failing:
            sidecar = make_sidecar(keyspace, redis_url, failing.url)
            report = sidecar.handle_batch(event, Context())
    looked_up = [i for i in drifted if _lookup_id(bodies[i])]
    assert looked_up
    assert report.failures == looked_up
    assert report.counts["failed"] == len(looked_up)
    main = main_envelopes(redis_client, keyspace)
    assert not any(e["meta"]["drift_detected"] for e in main)
    assert len(main) + redis_client.xlen(keyspace.dlq_stream) == len(bodies) - len(looked_up)

    healed = {"Records": [r for r in event["Records"] if r["messageId"] in looked_up]}
    again = make_sidecar(keyspace, redis_url, farm.url).handle_batch(healed, Context())
    assert again.failures == []
    total = redis_client.xlen(keyspace.stream) + redis_client.xlen(keyspace.dlq_stream)
    assert total == len(bodies)


def _lookup_id(body: str) -> bool:
    invoice_id = json.loads(body).get("invoice_id")
    return isinstance(invoice_id, str) and re.fullmatch(r"INV-[0-9]{1,12}", invoice_id) is not None


def test_redis_down_fails_the_whole_batch_back(farm: FarmServer, keyspace: KeySpace) -> None:
    dead_redis = closed_port_url().replace("http://", "redis://") + "/0"
    event = stream_event(farm, seed=14, limit=50)
    sidecar = make_sidecar(keyspace, dead_redis, farm.url, AOS_REDIS_TIMEOUT_SECONDS="0.5")
    report = sidecar.handle_batch(event, Context())
    ids = [r["messageId"] for r in event["Records"]]
    assert report.lambda_response() == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def test_token_is_sent_to_a_protected_source_of_truth(
    farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    drifted = {"invoice_id": "INV-102", "total_amount": 1.5, "status": "PAID"}
    event = {"Records": [{"messageId": "tok-1", "body": json.dumps(drifted)}]}
    with start_farm(env={"FARM_API_TOKEN": "farm-secret-42"}) as protected:
        refused = make_sidecar(keyspace, redis_url, protected.url).handle_batch(event, Context())
        assert refused.failures == ["tok-1"]
        assert "401" in refused.errors["tok-1"]
        accepted = make_sidecar(
            keyspace, redis_url, protected.url, FARM_API_TOKEN="farm-secret-42"
        ).handle_batch(event, Context())
    assert accepted.outcomes == {"tok-1": "repaired"}
    [envelope] = main_envelopes(redis_client, keyspace)
    assert "farm-secret-42" not in json.dumps(envelope)


@pytest.mark.parametrize("name", ["sqs_batch", "kinesis_batch"])
def test_lambda_handler_partial_failure_when_the_source_of_truth_is_down(
    name: str,
    keyspace: KeySpace,
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {**keyspace.env(), "REDIS_URL": redis_url, "FARM_URL": closed_port_url()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    event = json.loads((EVENTS / f"{name}.json").read_text())
    expected = json.loads((EVENTS / "expected" / f"{name}.json").read_text())["expected"]
    handler_module.current_sidecar.cache_clear()
    try:
        response = handler_module.handler(event, Context())
    finally:
        handler_module.current_sidecar.cache_clear()
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    local = next(r for r in event["Records"] if b"INV-104" in _raw_body(r))
    local_id = local.get("messageId") or local["kinesis"]["sequenceNumber"]
    repairable = [i for i, o in expected.items() if o == "repaired" and i != local_id]
    assert set(repairable) <= set(failed)
    assert local_id not in failed
    assert len(failed) == len(set(failed))
    main = main_envelopes(redis_client, keyspace)
    assert sorted(e["meta"]["item_id"] for e in main) == sorted(
        [i for i, outcome in expected.items() if outcome == "clean"] + [local_id]
    )
    [local_envelope] = [e for e in main if e["meta"]["item_id"] == local_id]
    assert local_envelope["meta"]["repairs"] == {"total_amount": "coerced:string"}
    placed = len(main) + redis_client.xlen(keyspace.dlq_stream)
    assert placed + len(failed) == len(event["Records"])


def _raw_body(record: dict[str, Any]) -> bytes:
    if "body" in record:
        return str(record["body"]).encode()
    try:
        return base64.b64decode(record["kinesis"]["data"])
    except ValueError:
        return b""


def test_full_schema_file_repairs_every_drifted_field(
    farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    schema = Path(__file__).resolve().parents[2] / "sidecar_fn" / "schemas" / "invoice_full.json"
    event = stream_event(farm, seed=15, limit=400)
    sidecar = make_sidecar(keyspace, redis_url, farm.url, AOS_SCHEMA=str(schema))
    report = sidecar.handle_batch(event, Context())
    assert report.failures == []
    main = main_envelopes(redis_client, keyspace)
    repaired_fields = {f for e in main for f in e["meta"]["repaired_fields"]}
    assert "billing_address" in repaired_fields
    with httpx.Client(base_url=farm.url) as http:
        for envelope in main:
            if envelope["meta"]["is_repaired"]:
                invoice_id = envelope["meta"]["record_id"]
                truth = http.get(f"/api/source/salesforce/invoice/{invoice_id}").json()
                assert envelope["payload"] == truth
