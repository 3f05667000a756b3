"""The SQS source against moto: send, process, delete, failures stay, redrive to the DLQ."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from local.sqs_source import run_sqs_source
from tests.integration.sqs_queues import REGION, drain, make_queues

pytestmark = pytest.mark.integration


def send_bodies(sqs: Any, url: str, bodies: list[str]) -> list[str]:
    """Send the bodies in order; returns their SQS message ids."""
    ids: list[str] = []
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        response = sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)],
        )
        assert not response.get("Failed")
        by_entry = {int(s["Id"]): s["MessageId"] for s in response["Successful"]}
        ids.extend(by_entry[i] for i in range(len(chunk)))
    return ids


def queue_depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) message counts."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


@dataclass
class FakeReport:
    counts: dict[str, int]
    failures: list[str]

    def lambda_response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": i} for i in self.failures]}


@dataclass
class FakeSidecar:
    """Fails every record whose body is in `poison`; counts the others as clean."""

    poison: set[str] = field(default_factory=set)
    raise_error: bool = False
    answer: Any = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def handle_batch(self, event: dict[str, Any], context: Any) -> FakeReport:
        assert context.get_remaining_time_in_millis() > 0
        self.events.append(event)
        if self.raise_error:
            raise RuntimeError("boom")
        records = event["Records"]
        failures = [r["messageId"] for r in records if r["body"] in self.poison]
        counts = {"clean": len(records) - len(failures), "failed": len(failures)}
        report = FakeReport(counts, failures)
        if self.answer is not None:
            report.lambda_response = lambda: self.answer  # type: ignore[method-assign]
        return report

    def deliveries(self) -> list[tuple[str, str]]:
        """(body, ApproximateReceiveCount) of every record delivered, in order."""
        return [
            (r["body"], r["attributes"]["ApproximateReceiveCount"])
            for e in self.events
            for r in e["Records"]
        ]


def test_events_carry_what_lambda_passes(sqs: Any) -> None:
    queues = make_queues(sqs, visibility_timeout=30)
    bodies = ['{"invoice_id": "INV-1"}', "<html>502</html>", "Zürich € 𝄞"]
    ids = send_bodies(sqs, queues.url, bodies)
    sidecar = FakeSidecar()

    totals = run_sqs_source(queues.url, sidecar, sqs_client=sqs, wait_seconds=0)

    assert totals["received"] == totals["deleted"] == 3
    (event,) = sidecar.events
    records = event["Records"]
    assert sorted(r["messageId"] for r in records) == sorted(ids)
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == queues.arn
        assert record["awsRegion"] == REGION
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert "SentTimestamp" in record["attributes"]
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert record["receiptHandle"]
    assert sorted(r["body"] for r in records) == sorted(bodies)


def test_successes_are_deleted_and_failures_stay_on_the_queue(sqs: Any) -> None:
    queues = make_queues(sqs, visibility_timeout=120)
    bodies = [f"record-{i}" for i in range(25)]
    send_bodies(sqs, queues.url, bodies)
    poison = {"record-3", "record-17", "record-24"}
    sidecar = FakeSidecar(poison=poison)

    totals = run_sqs_source(queues.url, sidecar, batch_size=10, sqs_client=sqs, wait_seconds=0)

    assert totals["batches"] == 3
    assert totals["received"] == 25
    assert totals["deleted"] == 22
    assert totals["failed"] == 3
    assert totals["clean"] == 22
    assert totals["errors"] == 0
    assert queue_depth(sqs, queues.url) == (0, 3)
    assert [len(e["Records"]) for e in sidecar.events] == [10, 10, 5]


def test_batches_larger_than_ten_gather_several_receives(sqs: Any) -> None:
    queues = make_queues(sqs, visibility_timeout=120)
    send_bodies(sqs, queues.url, [f"record-{i}" for i in range(25)])
    sidecar = FakeSidecar()

    totals = run_sqs_source(queues.url, sidecar, batch_size=25, sqs_client=sqs, wait_seconds=0)

    assert totals["batches"] == 1
    assert len({r["messageId"] for r in sidecar.events[0]["Records"]}) == 25
    assert queue_depth(sqs, queues.url) == (0, 0)


def test_max_batches_stops_early(sqs: Any) -> None:
    queues = make_queues(sqs, visibility_timeout=120)
    send_bodies(sqs, queues.url, [f"record-{i}" for i in range(30)])

    totals = run_sqs_source(
        queues.url, FakeSidecar(), batch_size=10, max_batches=2, sqs_client=sqs, wait_seconds=0
    )

    assert totals["batches"] == 2
    assert totals["deleted"] == 20
    assert queue_depth(sqs, queues.url) == (10, 0)


def test_failures_are_redelivered_then_dead_lettered_after_max_receive_count(sqs: Any) -> None:
    queues = make_queues(sqs, visibility_timeout=0, max_receive_count=3)
    send_bodies(sqs, queues.url, ["good-1", "poison", "good-2"])
    sidecar = FakeSidecar(poison={"poison"})

    totals = run_sqs_source(queues.url, sidecar, sqs_client=sqs, wait_seconds=0)

    assert [c for b, c in sidecar.deliveries() if b == "poison"] == ["1", "2", "3"]
    assert sorted(b for b, _ in sidecar.deliveries() if b != "poison") == ["good-1", "good-2"]
    assert totals["deleted"] == 2
    assert totals["failed"] == 3
    assert queue_depth(sqs, queues.url) == (0, 0)
    dead = drain(sqs, queues.dlq_url)
    assert [m["Body"] for m in dead] == ["poison"]


def test_a_raising_handler_leaves_the_whole_batch(sqs: Any) -> None:
    queues = make_queues(sqs, visibility_timeout=120)
    send_bodies(sqs, queues.url, ["a", "b", "c"])

    totals = run_sqs_source(
        queues.url, FakeSidecar(raise_error=True), sqs_client=sqs, wait_seconds=0
    )

    assert totals["errors"] == 1
    assert totals["deleted"] == 0
    assert totals["failed"] == 3
    assert queue_depth(sqs, queues.url) == (0, 3)


def test_an_invalid_item_identifier_fails_the_whole_batch(sqs: Any) -> None:
    queues = make_queues(sqs, visibility_timeout=120)
    send_bodies(sqs, queues.url, ["a", "b"])
    sidecar = FakeSidecar(answer={"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]})

    totals = run_sqs_source(queues.url, sidecar, sqs_client=sqs, wait_seconds=0)

    assert totals["deleted"] == 0
    assert totals["failed"] == 2
    assert queue_depth(sqs, queues.url) == (0, 2)


class ArrivalsAfterEmptyPolls:
    """An SQS client that sends `late` bodies after `empty_polls` receives found nothing."""

    def __init__(self, sqs: Any, url: str, late: list[str], empty_polls: int) -> None:
        self._sqs, self._url, self._late, self._left = sqs, url, late, empty_polls
        self.empty_receives = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def receive_message(self, **request: Any) -> dict[str, Any]:
        response: dict[str, Any] = self._sqs.receive_message(**request)
        if not response.get("Messages"):
            self.empty_receives += 1
            if self.empty_receives == self._left:
                send_bodies(self._sqs, self._url, self._late)
        return response


def test_without_stop_when_empty_it_keeps_polling(sqs: Any) -> None:
    queues = make_queues(sqs, visibility_timeout=120)
    send_bodies(sqs, queues.url, ["early-1", "early-2"])
    client = ArrivalsAfterEmptyPolls(sqs, queues.url, ["late-1", "late-2"], empty_polls=3)
    sidecar = FakeSidecar()

    totals = run_sqs_source(
        queues.url,
        sidecar,
        max_batches=2,
        sqs_client=client,
        wait_seconds=0,
        stop_when_empty=False,
    )

    assert client.empty_receives >= 3
    assert totals["batches"] == 2
    assert sorted(b for b, _ in sidecar.deliveries()) == ["early-1", "early-2", "late-1", "late-2"]
