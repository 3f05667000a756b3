"""IngestSidecar.handle_batch with fakes: the outcome table, idempotency, failures, logs."""

from __future__ import annotations

import base64
import json
from typing import Any

import fakeredis
import orjson
import pytest

from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar

from .conftest import SidecarWith
from .fakes import (
    CapturedLogger,
    Context,
    FakeSource,
    RecordingMetrics,
    expected_outcomes,
    load_event,
    pristine,
)


def sqs(*bodies: str | bytes, prefix: str = "m") -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"{prefix}{n}",
                "body": body.decode() if isinstance(body, bytes) else body,
                "eventSource": "aws:sqs",
            }
            for n, body in enumerate(bodies)
        ]
    }


def envelopes(client: fakeredis.FakeRedis, stream: str = "unit:main") -> list[dict[str, Any]]:
    return [orjson.loads(fields[b"envelope"]) for _, fields in client.xrange(stream)]


def dead_letters(client: fakeredis.FakeRedis) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in client.xrange("unit:dlq")]


@pytest.mark.parametrize("name", ["sqs_batch", "kinesis_batch"])
def test_sample_events_end_as_the_spec_table_says(
    name: str, sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    event = load_event(name)
    expected = expected_outcomes(name)
    report = sidecar.handle_batch(event, Context(30_000))
    assert report.outcomes == expected
    assert report.lambda_response() == {"batchItemFailures": []}
    assert sum(report.counts.values()) == len(event["Records"])
    main = envelopes(fake_redis)
    dlq = dead_letters(fake_redis)
    assert sorted(e["meta"]["item_id"] for e in main) == sorted(
        i for i, o in expected.items() if o in {"clean", "repaired"}
    )
    assert sorted(d[b"item_id"].decode() for d in dlq) == sorted(
        i for i, o in expected.items() if o in {"malformed", "unrepairable"}
    )
    for entry in dlq:
        assert entry[b"reason"].decode() == expected[entry[b"item_id"].decode()]


def test_repaired_envelope_carries_truth_and_meta(
    sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    record = {"invoice_id": "INV-102", "total_amount": 5.5, "status": None, "memo": "m"}
    report = sidecar.handle_batch(sqs(orjson.dumps(record)))
    assert report.counts["repaired"] == 1
    [envelope] = envelopes(fake_redis)
    truth = pristine("INV-102")
    assert envelope["payload"] == {
        **record,
        "vendor_id": truth["vendor_id"],
        "status": truth["status"],
    }
    meta = envelope["meta"]
    assert meta["source_id"] == "unit-src"
    assert meta["item_id"] == "m0"
    assert meta["record_id"] == "INV-102"
    assert meta["received_at"].endswith("Z")
    assert meta["drift_detected"] is True
    assert meta["drifted_fields"] == ["vendor_id", "status"]
    assert meta["is_repaired"] is True
    assert meta["repaired_fields"] == ["vendor_id", "status"]
    assert meta["repair_source"] == "salesforce"


def test_clean_envelope(sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis) -> None:
    record = pristine("INV-5")
    sidecar.handle_batch(sqs(orjson.dumps(record)))
    [envelope] = envelopes(fake_redis)
    assert envelope["payload"] == record
    assert envelope["meta"]["is_repaired"] is False
    assert envelope["meta"]["drift_detected"] is False
    assert envelope["meta"]["repaired_fields"] == []


def test_malformed_raw_is_kept_byte_for_byte(
    sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    raw = b'\xff\xfe\x00{"invoice_id": "INV-1"'
    event = {
        "Records": [{"kinesis": {"sequenceNumber": "42", "data": base64.b64encode(raw).decode()}}]
    }
    report = sidecar.handle_batch(event)
    assert report.outcomes == {"42": "malformed"}
    [entry] = dead_letters(fake_redis)
    assert entry[b"raw"] == raw
    assert entry[b"error"] == b"binary data, not UTF-8 text"
    assert fake_redis.xlen("unit:main") == 0


def test_one_batch_request_for_all_drifted_ids(sidecar: IngestSidecar, source: FakeSource) -> None:
    bodies = [
        orjson.dumps({"invoice_id": f"INV-{n % 300 + 1}", "total_amount": 1, "status": "PAID"})
        for n in range(450)
    ]
    report = sidecar.handle_batch(sqs(*bodies), Context(10_000))
    assert report.counts["repaired"] == 450
    assert len(source.calls) == 1
    ids, budget = source.calls[0]
    assert len(ids) == 300
    assert budget == pytest.approx(9.0)


def test_same_batch_twice_adds_nothing_and_counts_first_outcomes(
    sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    event = load_event("sqs_batch")
    first = sidecar.handle_batch(event)
    lengths = fake_redis.xlen("unit:main"), fake_redis.xlen("unit:dlq")
    second = sidecar.handle_batch(event)
    assert (fake_redis.xlen("unit:main"), fake_redis.xlen("unit:dlq")) == lengths
    assert second.counts == first.counts
    assert second.outcomes == first.outcomes
    assert second.duplicates == len(event["Records"])


def test_source_down_fails_drifted_items_back_and_pushes_none_unrepaired(
    sidecar: IngestSidecar, source: FakeSource, fake_redis: fakeredis.FakeRedis
) -> None:
    source.error = SourceUnavailable("connection refused")
    event = load_event("sqs_batch")
    expected = expected_outcomes("sqs_batch")
    report = sidecar.handle_batch(event)
    local_id = next(r["messageId"] for r in event["Records"] if "INV-104" in r["body"])
    repaired_ids = [i for i, o in expected.items() if o == "repaired" and i != local_id]
    unknown_id = next(r["messageId"] for r in event["Records"] if "INV-9999" in r["body"])
    failed_ids = [r["messageId"] for r in event["Records"] if r["messageId"] in repaired_ids]
    failed_ids.append(unknown_id)
    assert report.lambda_response() == {
        "batchItemFailures": [{"itemIdentifier": i} for i in failed_ids]
    }
    assert report.counts["failed"] == 3
    assert report.outcomes[local_id] == "repaired"
    pushed = {e["meta"]["item_id"]: e["meta"] for e in envelopes(fake_redis)}
    assert pushed[local_id]["repairs"] == {"total_amount": "coerced:string"}
    assert pushed[local_id]["repair_source"] == "local"
    others = [meta for item_id, meta in pushed.items() if item_id != local_id]
    assert all(meta["is_repaired"] is False for meta in others)
    assert not any(meta["drift_detected"] for meta in others)
    assert report.errors[repaired_ids[0]] == "connection refused"

    source.error = None
    retry = {"Records": [r for r in event["Records"] if r["messageId"] in repaired_ids]}
    again = sidecar.handle_batch(retry)
    assert again.counts["repaired"] == len(repaired_ids)
    assert again.lambda_response() == {"batchItemFailures": []}


def test_partial_source_answer_fails_only_unanswered(
    sidecar: IngestSidecar, source: FakeSource
) -> None:
    source.unanswered = {"INV-2"}
    drifted = [{"invoice_id": f"INV-{n}", "total_amount": 1, "status": "PAID"} for n in (1, 2)]
    report = sidecar.handle_batch(sqs(*(orjson.dumps(r) for r in drifted)))
    assert report.outcomes == {"m0": "repaired", "m1": "failed"}
    assert report.failures == ["m1"]


def test_redelivered_item_with_source_down_counts_its_first_outcome(
    sidecar: IngestSidecar, source: FakeSource
) -> None:
    event = sqs(orjson.dumps({"invoice_id": "INV-9", "total_amount": 1, "status": "PAID"}))
    sidecar.handle_batch(event)
    source.error = SourceUnavailable("down")
    report = sidecar.handle_batch(event)
    assert report.outcomes == {"m0": "repaired"}
    assert report.failures == []
    assert report.duplicates == 1


def test_no_time_left_fails_drifted_without_asking(
    sidecar: IngestSidecar, source: FakeSource
) -> None:
    event = sqs(orjson.dumps({"invoice_id": "INV-9", "total_amount": 1, "status": "PAID"}))
    report = sidecar.handle_batch(event, Context(500))
    assert report.failures == ["m0"]
    assert source.calls == []
    assert "deadline" in report.errors["m0"]


def test_redis_down_fails_every_item_back(
    settings: Settings, source: FakeSource, captured: CapturedLogger
) -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    sidecar = build_sidecar(
        settings,
        redis_client=client,
        source=source,
        metrics=RecordingMetrics(),
        logger=captured.logger,
    )
    server.connected = False
    event = load_event("sqs_batch")
    report = sidecar.handle_batch(event)
    ids = [r["messageId"] for r in event["Records"]]
    assert report.failures == ids
    assert report.counts["failed"] == len(ids)
    assert "Batch not written" in captured.text


def test_duplicate_ids_inside_one_batch_give_one_entry(
    sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    body = orjson.dumps(pristine("INV-3"))
    event = sqs(body)
    event["Records"] *= 2
    report = sidecar.handle_batch(event)
    assert fake_redis.xlen("unit:main") == 1
    assert report.counts["clean"] == 2
    assert report.duplicates == 1


def test_logs_drift_and_repair_with_real_ids_and_never_the_token(
    sidecar_with: SidecarWith, captured: CapturedLogger
) -> None:
    settings = Settings(farm_api_token="tok-SECRET-123", source_id="s", stream="unit:main")
    sidecar = sidecar_with(settings)
    sidecar.handle_batch(load_event("sqs_batch"))
    messages = captured.messages()
    assert "Drift Detected for INV-102. Fetching repair..." in messages
    assert messages.count("Record Repaired.") == 3
    repaired = [line for line in captured.lines if line["message"] == "Record Repaired."]
    assert {line["invoice_id"] for line in repaired} == {"INV-102", "INV-103", "INV-104"}
    assert "tok-SECRET-123" not in captured.text
    assert not any("Drift Detected for INV-101" in m for m in messages)


def test_metrics_published_once_per_batch(
    sidecar: IngestSidecar, metrics: RecordingMetrics
) -> None:
    sidecar.handle_batch(load_event("sqs_batch"))
    [published] = metrics.published
    assert published == {
        "clean": 2,
        "repaired": 3,
        "malformed": 4,
        "unrepairable": 3,
        "retries_exhausted": 0,
        "failed": 0,
        "drifted": 6,
        "duplicates": 0,
    }


def test_dead_letter_is_idempotent(sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis) -> None:
    sidecar.dead_letter([("x1", b"raw-1"), ("x2", b"\x00")], "retries_exhausted", "3 attempts")
    sidecar.dead_letter([("x1", b"raw-1")], "retries_exhausted", "3 attempts")
    entries = dead_letters(fake_redis)
    assert [(e[b"item_id"], e[b"raw"], e[b"reason"]) for e in entries] == [
        (b"x1", b"raw-1", b"retries_exhausted"),
        (b"x2", b"\x00", b"retries_exhausted"),
    ]
    with pytest.raises(ValueError):
        sidecar.dead_letter([("x3", b"")], "clean", "no")


def test_item_dead_lettered_after_retries_counts_so_when_redelivered(
    sidecar: IngestSidecar,
) -> None:
    sidecar.dead_letter([("m0", b"{}")], "retries_exhausted", "gave up")
    report = sidecar.handle_batch(sqs(orjson.dumps(pristine("INV-1"))))
    assert report.outcomes == {"m0": "retries_exhausted"}
    assert report.counts["retries_exhausted"] == 1


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [300, 900])
def test_deeply_nested_clean_record_keeps_its_payload(
    depth: int, sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    raw = b'{"invoice_id":"INV-1","vendor_id":"V","status":"PAID","total_amount":1,"x":'
    raw += nested(depth) + b"}"
    report = sidecar.handle_batch(sqs(raw))
    assert report.outcomes == {"m0": "clean"}
    [envelope] = envelopes(fake_redis)
    assert envelope["payload"] == orjson.loads(raw)


def first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in pairs:
        kept.setdefault(key, value)
    return kept


@pytest.mark.parametrize("depth", [10, 300])
def test_a_record_with_repeated_keys_is_written_as_judged(
    depth: int, sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    raw = (
        b'{"invoice_id":"INV-999","vendor_id":"V-EVIL","status":"PAID","total_amount":1,'
        b'"invoice_id":"INV-1","vendor_id":"V","x":' + nested(depth) + b"}"
    )
    judged = orjson.loads(raw)
    report = sidecar.handle_batch(sqs(raw))
    assert report.outcomes == {"m0": "clean"}
    [(_, fields)] = fake_redis.xrange("unit:main")
    as_read_first_wins = json.loads(fields[b"envelope"], object_pairs_hook=first_wins)
    assert as_read_first_wins["payload"] == judged
    assert as_read_first_wins["meta"]["record_id"] == judged["invoice_id"]


def test_a_clean_record_too_deep_to_write_is_dead_lettered_as_malformed(
    sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    raw = b'{"invoice_id":"INV-1","vendor_id":"V","status":"PAID","total_amount":1,"x":'
    raw += nested(1020) + b"}"
    report = sidecar.handle_batch(sqs(raw))
    assert report.outcomes == {"m0": "malformed"}
    [(_, fields)] = fake_redis.xrange("unit:dlq")
    assert fields[b"raw"] == raw and b"too deep" in fields[b"error"]


def test_deeply_nested_drifted_record_is_repaired_or_dead_lettered(
    sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    shallow = b'{"invoice_id":"INV-1","status":"PAID","total_amount":1,"x":' + nested(300) + b"}"
    deep = b'{"invoice_id":"INV-2","status":"PAID","total_amount":1,"x":' + nested(1020) + b"}"
    report = sidecar.handle_batch(sqs(shallow, deep))
    assert report.outcomes["m0"] == "repaired"
    assert report.outcomes["m1"] in {"repaired", "unrepairable"}
    assert report.failures == []
    placed = fake_redis.xlen("unit:main") + fake_redis.xlen("unit:dlq")
    assert placed == 2


def test_drift_per_field_is_published_for_newly_recorded_items_only(
    sidecar: IngestSidecar, metrics: RecordingMetrics
) -> None:
    drifted = {**pristine("INV-9"), "vendor_id": None, "status": None}
    event = sqs(orjson.dumps(drifted), orjson.dumps(pristine("INV-10")))
    sidecar.handle_batch(event, Context(30_000))
    sidecar.handle_batch(event, Context(30_000))
    assert metrics.by_field == [("drift", {"vendor_id": 1, "status": 1})]
