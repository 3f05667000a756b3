"""SQS and Kinesis event builders: shapes and deterministic item ids."""

from __future__ import annotations

import base64
import hashlib

import pytest

from local.events import EventFactory, StreamRecord, record_id


def test_ids_depend_only_on_seed_chaos_and_sequence() -> None:
    ids = EventFactory("sqs", seed=3, chaos=True)
    assert ids.item_id(5) == EventFactory("sqs", seed=3, chaos=True).item_id(5)
    others = {
        EventFactory("sqs", seed=4, chaos=True).item_id(5),
        EventFactory("sqs", seed=3, chaos=False).item_id(5),
        ids.item_id(6),
    }
    assert ids.item_id(5) not in others and len(others) == 3
    assert ids.item_id(5) == record_id(3, True, 5)


@pytest.mark.parametrize(("seed", "chaos"), [(0, True), (0, False), (7, True), (2**63 - 1, False)])
def test_a_record_has_the_same_id_in_both_event_shapes(seed: int, chaos: bool) -> None:
    sqs = EventFactory("sqs", seed=seed, chaos=chaos)
    kinesis = EventFactory("kinesis", seed=seed, chaos=chaos)
    records = [StreamRecord(n, f"record {n}") for n in (0, 1, 4096, 10**12)]
    sqs_ids = [r["messageId"] for r in sqs.build(records, attempt=1, now_ms=0)["Records"]]
    kinesis_ids = [
        r["kinesis"]["sequenceNumber"]
        for r in kinesis.build(records, attempt=1, now_ms=0)["Records"]
    ]
    assert sqs_ids == kinesis_ids


def test_ids_of_a_run_are_distinct() -> None:
    for source in ("sqs", "kinesis"):
        factory = EventFactory(source, seed=0, chaos=True)  # type: ignore[arg-type]
        ids = [factory.item_id(n) for n in range(5000)]
        assert len(set(ids)) == len(ids)


def test_kinesis_sequence_numbers_are_decimal_and_grow_with_the_sequence() -> None:
    factory = EventFactory("kinesis", seed=9, chaos=False)
    numbers = [factory.item_id(n) for n in (0, 1, 99, 10**9)]
    assert all(n.isdigit() for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    assert factory.item_id(1) != EventFactory("kinesis", seed=9, chaos=True).item_id(1)


def test_sqs_event_carries_bodies_as_is_with_lambda_fields() -> None:
    records = [StreamRecord(0, '{"a": 1}'), StreamRecord(1, "not json")]
    event = EventFactory("sqs", seed=0, chaos=True).build(records, attempt=2, now_ms=123)
    first, second = event["Records"]
    assert [first["body"], second["body"]] == ['{"a": 1}', "not json"]
    assert first["messageId"] != second["messageId"]
    assert first["eventSource"] == "aws:sqs"
    assert first["attributes"]["ApproximateReceiveCount"] == "2"
    assert first["attributes"]["SentTimestamp"] == "123"
    assert first["md5OfBody"] == hashlib.md5(b'{"a": 1}').hexdigest()
    assert first["eventSourceARN"].startswith("arn:aws:sqs:")


def test_kinesis_event_carries_base64_of_the_exact_bytes() -> None:
    text = 'caf\u00e9 \ud800 {"x"'
    record = StreamRecord(42, text)
    factory = EventFactory("kinesis", seed=1, chaos=True)
    [item] = factory.build([record], attempt=1, now_ms=1500)["Records"]
    assert base64.b64decode(item["kinesis"]["data"]) == text.encode("utf-8", "surrogatepass")
    assert item["kinesis"]["sequenceNumber"] == factory.item_id(42)
    assert item["eventSource"] == "aws:kinesis"
    assert item["eventID"].endswith(factory.item_id(42))
    assert item["kinesis"]["approximateArrivalTimestamp"] == 1.5


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        EventFactory("sns", seed=0, chaos=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        EventFactory("sqs", seed=-1, chaos=True)
    with pytest.raises(ValueError):
        EventFactory("sqs", seed=0, chaos=True).item_id(-1)
