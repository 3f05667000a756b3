"""Early write of a standard SQS batch: entries needing no repair go while the source is asked."""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from typing import Any

import fakeredis
import orjson
import pytest

from sidecar_fn.drift_stats import BatchStats
from sidecar_fn.errors import SinkUnavailable, SourceUnavailable
from sidecar_fn.ports import PushResult, Retirement, SinkEntry, StreamSink
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar
from sidecar_fn.write_order import unordered

from .fakes import CapturedLogger, FakeSource, RecordingMetrics, pristine

CLEAN = orjson.dumps(pristine("INV-1")).decode()
DRIFTED = orjson.dumps({"invoice_id": "INV-2", "total_amount": 2.5, "status": "PAID"}).decode()
MALFORMED = "{oops"


class RecordingSink:
    """StreamSink decorator: keeps each push's item ids and whether it held a probe; refuses
    the push that holds `fail_item`."""

    def __init__(self, inner: StreamSink, fail_item: str | None = None) -> None:
        self.inner = inner
        self.fail_item = fail_item
        self.calls: list[tuple[list[str], bool]] = []
        self._lock = threading.Lock()

    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        ids = [e.item_id for e in entries]
        with self._lock:
            self.calls.append((ids, any(e.outcome == "" for e in entries)))
        if self.fail_item in ids:
            raise SinkUnavailable("Redis write failed: down")
        return self.inner.push(
            entries, source_id=source_id, received_at=received_at, stats=stats, retire=retire
        )


def sqs(*bodies: str, fifo: bool = False) -> dict[str, Any]:
    attributes = {"MessageGroupId": "g"} if fifo else {}
    return {
        "Records": [
            {"messageId": f"m{n}", "body": body, "eventSource": "aws:sqs", "attributes": attributes}
            for n, body in enumerate(bodies)
        ]
    }


def kinesis(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "kinesis": {
                    "sequenceNumber": f"s{n}",
                    "data": base64.b64encode(b.encode()).decode(),
                },
            }
            for n, b in enumerate(bodies)
        ]
    }


def make(
    fail_item: str | None = None,
    *,
    write_part: int = 100,
    recorded: bool = True,
) -> tuple[IngestSidecar, RecordingSink, fakeredis.FakeRedis, FakeSource, CapturedLogger]:
    """A sidecar on fakeredis; its sink wrapped in a RecordingSink (which does not pipeline)
    unless `recorded` is false."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    source, captured = FakeSource(), CapturedLogger()
    settings = Settings(
        source_id="w", stream="w:main", dlq_stream="w:dlq", write_part_records=write_part
    )
    sidecar = build_sidecar(
        settings,
        redis_client=client,
        source=source,
        metrics=RecordingMetrics(),
        logger=captured.logger,
    )
    sink = RecordingSink(sidecar.sink, fail_item)
    if recorded:
        sidecar.sink = sink
    return sidecar, sink, client, source, captured


def test_only_standard_sqs_batches_are_unordered() -> None:
    assert unordered(sqs(CLEAN, DRIFTED))
    assert not unordered(sqs(CLEAN, fifo=True))
    assert not unordered(kinesis(CLEAN))
    assert not unordered({"Records": []})
    assert not unordered({"Records": [{"messageId": "m0", "body": CLEAN}]})


def test_standard_sqs_batch_writes_the_clean_part_then_the_repaired_part() -> None:
    sidecar, sink, client, _, _ = make()
    report = sidecar.handle_batch(sqs(CLEAN, DRIFTED, MALFORMED))
    assert sorted(sink.calls) == sorted([(["m0", "m2"], False), (["m1"], False)])
    assert report.outcomes == {"m0": "clean", "m1": "repaired", "m2": "malformed"}
    assert (client.xlen("w:main"), client.xlen("w:dlq")) == (2, 1)
    again = sidecar.handle_batch(sqs(CLEAN, DRIFTED, MALFORMED))
    assert again.outcomes == report.outcomes
    assert again.duplicates == 3
    assert (client.xlen("w:main"), client.xlen("w:dlq")) == (2, 1)


@pytest.mark.parametrize("event", [sqs(CLEAN, DRIFTED, fifo=True), kinesis(CLEAN, DRIFTED)])
def test_ordered_batches_keep_one_write_in_delivery_order(event: dict[str, Any]) -> None:
    sidecar, sink, client, _, _ = make()
    report = sidecar.handle_batch(event)
    assert len(sink.calls) == 1
    assert report.counts["clean"] == report.counts["repaired"] == 1
    records = [orjson.loads(f[b"envelope"])["payload"] for _, f in client.xrange("w:main")]
    assert [r["invoice_id"] for r in records] == ["INV-1", "INV-2"]


def test_a_batch_without_drift_is_one_write() -> None:
    sidecar, sink, _, source, _ = make()
    sidecar.handle_batch(sqs(CLEAN, MALFORMED))
    assert len(sink.calls) == 1
    assert source.calls == []


def test_source_down_fails_back_only_the_drifted_and_writes_the_rest() -> None:
    sidecar, sink, client, source, _ = make()
    source.error = SourceUnavailable("down")
    report = sidecar.handle_batch(sqs(CLEAN, DRIFTED, MALFORMED))
    assert report.failures == ["m1"]
    assert report.errors["m1"] == "down"
    assert report.outcomes == {"m0": "clean", "m1": "failed", "m2": "malformed"}
    assert sorted(sink.calls) == [(["m0", "m2"], False), (["m1"], True)]
    assert (client.xlen("w:main"), client.xlen("w:dlq")) == (1, 1)


@pytest.mark.parametrize(("fail_item", "failed"), [("m0", ["m0", "m2"]), ("m1", ["m1"])])
def test_a_part_redis_refuses_is_handed_back_alone(fail_item: str, failed: list[str]) -> None:
    sidecar, _, client, _, captured = make(fail_item)
    report = sidecar.handle_batch(sqs(CLEAN, DRIFTED, MALFORMED))
    assert report.failures == failed
    assert report.counts["failed"] == len(failed)
    assert all(report.errors[i] == "Redis write failed: down" for i in failed)
    assert captured.text.count("Batch not written") == 1
    assert f'"records":{len(failed)},' in captured.text
    written = [i for i in ("m0", "m1", "m2") if i not in failed]
    assert all(report.outcomes[i] != "failed" for i in written)
    assert client.xlen("w:main") + client.xlen("w:dlq") == len(written)


def test_redis_down_for_both_parts_hands_back_the_whole_batch_in_order() -> None:
    sidecar, _, _, _, captured = make()
    sidecar.sink = RecordingSink(FailingSink())
    report = sidecar.handle_batch(sqs(CLEAN, DRIFTED, MALFORMED))
    assert report.failures == ["m0", "m1", "m2"]
    assert captured.text.count("Batch not written") == 2


class FailingSink:
    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        raise SinkUnavailable("Redis write failed: down")


def bucket(client: fakeredis.FakeRedis) -> dict[bytes, bytes]:
    (key,) = client.keys("aos:stats:*")
    return dict(client.hgetall(key))


def test_statistics_are_the_same_with_one_write_or_two() -> None:
    bodies = (CLEAN, DRIFTED, MALFORMED, CLEAN.replace("INV-1", "INV-3"))
    buckets = []
    for event, writes in ((sqs(*bodies, fifo=True), 2), (sqs(*bodies), 4)):
        sidecar, sink, client, _, _ = make()
        sidecar.handle_batch(event)
        sidecar.handle_batch(event)
        assert len(sink.calls) == writes
        buckets.append(bucket(client))
    assert buckets[0] == buckets[1]
    assert buckets[1][b"records"] == b"4"
    assert buckets[1][b"repaired:vendor_id"] == b"1"


def test_parts_of_a_standard_sqs_batch_are_written_and_failed_back_each_alone() -> None:
    bodies = (CLEAN, MALFORMED, DRIFTED, CLEAN.replace("INV-1", "INV-3"), MALFORMED)
    sidecar, sink, client, _, captured = make(fail_item="m3", write_part=2)
    report = sidecar.handle_batch(sqs(*bodies))
    # parts of two records (the drifted m2 waits for the source), then the repaired one
    assert sorted(ids for ids, _ in sink.calls) == [["m0", "m1"], ["m2"], ["m3"], ["m4"]]
    assert report.failures == ["m3"]
    assert report.outcomes == {
        "m0": "clean",
        "m1": "malformed",
        "m2": "repaired",
        "m3": "failed",
        "m4": "malformed",
    }
    assert captured.text.count("Batch not written") == 1
    assert (client.xlen("w:main"), client.xlen("w:dlq")) == (2, 2)


def test_statistics_are_the_same_in_parts() -> None:
    bodies = (CLEAN, DRIFTED, MALFORMED, CLEAN.replace("INV-1", "INV-3"), "[1]")
    buckets = []
    for part in (0, 1, 2):
        sidecar, _, client, _, _ = make(write_part=part)
        sidecar.handle_batch(sqs(*bodies))
        sidecar.handle_batch(sqs(*bodies))
        buckets.append(bucket(client))
    assert buckets[0] == buckets[1] == buckets[2]
    assert buckets[0][b"records"] == b"5"


class BrokenSource:
    def fetch_many(self, ids: Sequence[str], *, budget_s: float | None = None) -> Any:
        raise RuntimeError("a bug in the source adapter")


def test_a_batch_that_stops_with_an_error_reads_its_sent_parts_first() -> None:
    """Parts were sent (pipelined, from the handler's thread) when the lookup fails with an
    unexpected error: the error reaches Lambda, and every part's reply has been read, so no
    connection stays checked out of the pool; what the parts wrote is found on redelivery."""
    sidecar, _, client, source, _ = make(write_part=1, recorded=False)
    sidecar.source = BrokenSource()
    event = sqs(CLEAN, MALFORMED, DRIFTED, CLEAN.replace("INV-1", "INV-3"))
    with pytest.raises(RuntimeError, match="a bug in the source adapter"):
        sidecar.handle_batch(event)
    assert not client.connection_pool._in_use_connections
    assert (client.xlen("w:main"), client.xlen("w:dlq")) == (2, 1)
    sidecar.source = source
    again = sidecar.handle_batch(event)
    assert again.duplicates == 3 and again.counts["repaired"] == 1
