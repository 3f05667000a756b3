"""Envelope construction and event parsing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from sidecar_fn.envelope import build_meta, dump_envelope, format_received_at
from sidecar_fn.errors import InvalidEvent
from sidecar_fn.records import Item, parse_event

from .fakes import load_event


def test_received_at_is_iso_utc_with_millis() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert format_received_at(moment) == "2026-01-02T03:04:05.678Z"
    other_zone = moment.astimezone(timezone(timedelta(hours=2)))
    assert format_received_at(other_zone) == "2026-01-02T03:04:05.678Z"


def test_meta_and_envelope() -> None:
    meta = build_meta(
        source_id="src",
        item_id="m-1",
        record_id="INV-1",
        received_at="2026-01-02T03:04:05.678Z",
        drifted_fields=("vendor_id",),
        repaired_fields=("vendor_id",),
        repair_source="salesforce",
    )
    document = orjson.loads(dump_envelope(meta, {"invoice_id": "INV-1"}))
    assert document["payload"] == {"invoice_id": "INV-1"}
    assert document["meta"] == {
        "envelope_version": 1,
        "source_id": "src",
        "item_id": "m-1",
        "record_id": "INV-1",
        "received_at": "2026-01-02T03:04:05.678Z",
        "drift_detected": True,
        "drifted_fields": ["vendor_id"],
        "is_repaired": True,
        "repaired_fields": ["vendor_id"],
        "repair_source": "salesforce",
    }


def test_clean_meta_defaults() -> None:
    meta = build_meta(source_id="s", item_id="i", record_id="INV-1", received_at="t")
    assert meta["drift_detected"] is False
    assert meta["is_repaired"] is False
    assert meta["repaired_fields"] == []
    assert meta["repair_source"] is None


def test_sqs_event_items_keep_ids_and_bodies() -> None:
    event = load_event("sqs_batch")
    items = parse_event(event)
    assert [item.item_id for item in items] == [r["messageId"] for r in event["Records"]]
    assert len({item.item_id for item in items}) == len(items)
    assert items[5].raw == event["Records"][5]["body"].encode()
    assert all(item.problem is None for item in items)


def test_kinesis_event_items_decode_base64_byte_for_byte() -> None:
    event = load_event("kinesis_batch")
    items = parse_event(event)
    seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert [item.item_id for item in items] == seqs
    assert items[4].raw == base64.b64decode(event["Records"][4]["kinesis"]["data"])
    assert items[4].raw.startswith(b"\xff\xfe")
    bad = items[5]
    assert bad.problem == "Kinesis data is not base64"
    assert bad.raw == b"!!not base64!!"


def test_sqs_body_with_lone_surrogate_is_kept_as_bytes() -> None:
    items = parse_event({"Records": [{"messageId": "m", "body": "a\ud800b"}]})
    assert items == [Item("m", b"a\xed\xa0\x80b")]


def test_record_without_body_is_a_problem_item() -> None:
    items = parse_event({"Records": [{"messageId": "m"}]})
    assert items[0].problem == "SQS record has no text body"


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {},
        {"Records": "x"},
        {"Records": [1]},
        {"Records": [{"body": "x"}]},
        {"Records": [{"kinesis": {"data": "eA=="}}]},
    ],
)
def test_events_that_are_not_batches(event: object) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(event)


def test_empty_batch() -> None:
    assert parse_event({"Records": []}) == []


@pytest.mark.parametrize("noise", ["*", "\n", " ", "!"])
def test_kinesis_data_with_characters_outside_base64_is_malformed(noise: str) -> None:
    encoded = base64.b64encode(b'{"invoice_id": "INV-1", "vendor_id": "V-1"}').decode()
    data = encoded[:8] + noise + encoded[8:]
    assert base64.b64decode(data) == base64.b64decode(encoded), "a lenient decoder reads it"
    event = {"Records": [{"kinesis": {"sequenceNumber": "1", "data": data}}]}
    [item] = parse_event(event)
    assert item.problem == "Kinesis data is not base64"
    assert item.raw == data.encode()
