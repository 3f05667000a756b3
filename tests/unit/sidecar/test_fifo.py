"""SQS FIFO order: a record handed back holds back the rest of its message group."""

from __future__ import annotations

from typing import Any

import fakeredis
import orjson
import pytest

from sidecar_fn.fifo import hold_back_after_failure, message_groups
from sidecar_fn.ports import CLEAN, PROBE, SinkEntry
from sidecar_fn.sidecar import IngestSidecar

from .fakes import FakeSource, pristine


def fifo_event(*records: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """An SQS FIFO event of (messageId, MessageGroupId, body) in delivery order."""
    return {
        "Records": [
            {
                "messageId": message_id,
                "body": orjson.dumps(body).decode(),
                "attributes": {"MessageGroupId": group, "SequenceNumber": str(n)},
                "eventSource": "aws:sqs",
            }
            for n, (message_id, group, body) in enumerate(records)
        ]
    }


def drifted(invoice_id: str) -> dict[str, Any]:
    record = pristine(invoice_id)
    del record["total_amount"]
    return record


def written_ids(client: fakeredis.FakeRedis) -> list[str]:
    return [
        orjson.loads(fields[b"envelope"])["meta"]["item_id"]
        for _, fields in client.xrange("unit:main")
    ]


def test_message_groups_reads_each_records_group_in_order() -> None:
    event = fifo_event(("a", "g1", {}), ("b", "g2", {}))
    assert message_groups(event) == ["g1", "g2"]


def test_message_groups_is_none_for_a_standard_queue_or_kinesis() -> None:
    assert message_groups({"Records": [{"messageId": "a", "body": "{}", "attributes": {}}]}) is None
    assert message_groups({"Records": [{"kinesis": {"sequenceNumber": "1"}}]}) is None


def test_hold_back_probes_every_later_entry_of_the_broken_group_only() -> None:
    entries = [
        SinkEntry("a1", CLEAN, b"{}", ""),
        SinkEntry("a2", PROBE, b"", ""),
        SinkEntry("b1", CLEAN, b"{}", ""),
        SinkEntry("a3", CLEAN, b"{}", ""),
        SinkEntry("n1", CLEAN, b"{}", ""),
        SinkEntry("a4", "malformed", b"x", "bad"),
    ]
    held = hold_back_after_failure(entries, ["a", "a", "b", "a", None, "a"])

    assert sorted(held) == [3, 5]
    assert "a2" in held[3]
    assert [e.outcome for e in entries] == [CLEAN, PROBE, CLEAN, PROBE, CLEAN, PROBE]


def test_hold_back_rejects_groups_that_do_not_align_with_the_entries() -> None:
    with pytest.raises(ValueError, match="2 entries but 1"):
        hold_back_after_failure([SinkEntry("a", CLEAN, b"", "")] * 2, ["g"])


def test_failing_record_mid_group_hands_back_the_rest_of_its_group(
    sidecar: IngestSidecar, source: FakeSource, fake_redis: fakeredis.FakeRedis
) -> None:
    source.unanswered.add("INV-2")
    event = fifo_event(
        ("a1", "INV-1", pristine("INV-1")),
        ("b1", "INV-2", pristine("INV-2")),
        ("b2", "INV-2", drifted("INV-2")),
        ("a2", "INV-1", drifted("INV-1")),
        ("b3", "INV-2", pristine("INV-2")),
        ("c1", "INV-3", pristine("INV-3")),
    )

    report = sidecar.handle_batch(event)

    assert report.failures == ["b2", "b3"]
    assert written_ids(fake_redis) == ["a1", "b1", "a2", "c1"]
    assert "held back to keep FIFO order" in report.errors["b3"]
    assert report.counts["failed"] == 2


def test_redelivery_of_the_held_back_rest_writes_it_in_order(
    sidecar: IngestSidecar, source: FakeSource, fake_redis: fakeredis.FakeRedis
) -> None:
    source.unanswered.add("INV-2")
    event = fifo_event(
        ("b1", "INV-2", drifted("INV-2")),
        ("b2", "INV-2", pristine("INV-2")),
    )
    assert sidecar.handle_batch(event).failures == ["b1", "b2"]
    assert written_ids(fake_redis) == []

    source.unanswered.clear()
    assert sidecar.handle_batch(event).failures == []
    assert written_ids(fake_redis) == ["b1", "b2"]


def test_a_standard_queue_batch_still_writes_past_a_failure(
    sidecar: IngestSidecar, source: FakeSource, fake_redis: fakeredis.FakeRedis
) -> None:
    source.unanswered.add("INV-2")
    event = fifo_event(("b1", "INV-2", drifted("INV-2")), ("b2", "INV-2", pristine("INV-2")))
    for record in event["Records"]:
        del record["attributes"]["MessageGroupId"]

    assert sidecar.handle_batch(event).failures == ["b1"]
    assert written_ids(fake_redis) == ["b2"]
