"""The SQS publisher: message entries, batching limits, refused records and send retries."""

from __future__ import annotations

from typing import Any

import pytest

from local.events import StreamRecord
from local.farm_stream import Page
from local.publish_to_sqs import (
    MAX_PAYLOAD_BYTES,
    message_entry,
    publish_records,
    publish_stream,
    send_batches,
    unsendable_reason,
)


class FakeSqs:
    """Records SendMessageBatch calls; fails the entries listed in `fail_plan` once each."""

    def __init__(self, fail_plan: dict[str, bool] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.fail_plan = dict(fail_plan or {})

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        ok, failed = [], []
        for entry in Entries:
            if entry["Id"] in self.fail_plan:
                sender_fault = self.fail_plan.pop(entry["Id"])
                failed.append(
                    {"Id": entry["Id"], "SenderFault": sender_fault, "Code": "X", "Message": "no"}
                )
            else:
                ok.append({"Id": entry["Id"], "MessageId": f"m-{entry['Id']}"})
        return {"Successful": ok, "Failed": failed}

    def sent_bodies(self) -> list[str]:
        return [e["MessageBody"] for call in self.calls for e in call]


def _records(n: int, start: int = 0) -> list[StreamRecord]:
    return [StreamRecord(s, f'{{"invoice_id": "INV-{s}"}}') for s in range(start, start + n)]


def test_entry_carries_raw_text_and_origin() -> None:
    entry = message_entry(StreamRecord(7, "not json {"), seed=3, chaos=True)

    assert entry["Id"] == "s7"
    assert entry["MessageBody"] == "not json {"
    assert entry["MessageAttributes"]["aos_sequence"] == {"DataType": "Number", "StringValue": "7"}
    assert entry["MessageAttributes"]["aos_seed"]["StringValue"] == "3"
    assert entry["MessageAttributes"]["aos_chaos"]["StringValue"] == "true"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("", "empty"),
        ("abc\x00def", "U+0000 at offset 3"),
        ("lone \ud800 surrogate", "U+D800"),
        ("\ufffe", "U+FFFE"),
        ("x" * (MAX_PAYLOAD_BYTES + 1), "larger"),
    ],
)
def test_bodies_sqs_refuses_are_named(data: str, fragment: str) -> None:
    reason = unsendable_reason(data)
    assert reason is not None
    assert fragment in reason


@pytest.mark.parametrize("data", ["{}", "tab\tnew\nline\r", "€ 𝄞 \ue000", "[1, 2", "42"])
def test_bodies_sqs_accepts(data: str) -> None:
    assert unsendable_reason(data) is None


def test_batches_hold_at_most_ten_entries() -> None:
    entries = [message_entry(r, seed=0, chaos=True) for r in _records(23)]
    assert [len(b) for b in send_batches(entries)] == [10, 10, 3]


def test_batches_stay_under_the_payload_limit() -> None:
    big = "x" * 100_000
    entries = [message_entry(StreamRecord(i, big), seed=0, chaos=True) for i in range(5)]
    assert [len(b) for b in send_batches(entries)] == [2, 2, 1]


def test_publish_sends_every_sendable_record_and_reports_the_rest() -> None:
    records = [*_records(12), StreamRecord(12, "bad\x01"), *_records(3, start=13)]
    sqs = FakeSqs()

    report = publish_records(records, "q", seed=0, chaos=True, sqs_client=sqs)

    assert report.read == 16
    assert report.sent == 15
    assert report.next_cursor == 16
    assert [s for s, _ in report.rejected] == [12]
    assert sqs.sent_bodies() == [r.data for r in records if r.sequence != 12]


def test_transient_send_failures_are_retried_and_sender_faults_reported() -> None:
    sqs = FakeSqs(fail_plan={"s1": False, "s2": True})
    pauses: list[float] = []

    report = publish_records(
        _records(4), "q", seed=0, chaos=False, sqs_client=sqs, sleep=pauses.append
    )

    assert report.sent == 3
    assert [s for s, _ in report.rejected] == [2]
    assert [[e["Id"] for e in call] for call in sqs.calls] == [["s0", "s1", "s2", "s3"], ["s1"]]
    assert len(pauses) == 1


def test_publish_stream_reads_pages_from_the_cursor() -> None:
    requested: list[tuple[int, int]] = []

    def fetch(cursor: int, limit: int) -> Page:
        requested.append((cursor, limit))
        return Page(_records(limit, start=cursor), cursor + limit)

    sqs = FakeSqs()
    report = publish_stream(
        fetch, "q", count=25, seed=1, chaos=True, cursor=100, page_size=10, sqs_client=sqs
    )

    assert requested == [(100, 10), (110, 10), (120, 5)]
    assert report.read == report.sent == 25
    assert report.next_cursor == 125
    assert sqs.sent_bodies() == [r.data for r in _records(25, start=100)]
