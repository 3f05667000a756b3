"""The split of a batch's time: derived parts and the timing decorators."""

from __future__ import annotations

import threading
import time

from bench.runs import render, summarise
from bench.split import (
    BatchSplit,
    InstantSource,
    TimedPipelinedSink,
    TimedSink,
    TimedSource,
    render_split,
    timed,
)
from sidecar_fn.ports import PushResult, SinkEntry


class Source:
    def fetch_many(self, ids, *, budget_s=None):  # type: ignore[no-untyped-def]
        return {i: {"invoice_id": i} for i in ids}


class Sink:
    def push(self, entries, *, source_id, received_at, stats=None, retire=None):  # type: ignore[no-untyped-def]
        return [PushResult(True, e.outcome) for e in entries]


def test_parts_derive_from_the_two_runs() -> None:
    split = BatchSplit(
        total=[20.0, 22.0, 30.0],
        total_instant=[14.0, 15.0, 16.0],
        push=[5.0, 6.0, 7.0],
        push_waited=[2.0, 3.0, 4.0],
        cpu_instant=[11.0, 12.0, 13.0],
        writes=[2, 2, 2],
        packing=[0.5, 0.5, 0.5],
        script=[3.0, 3.5, 4.0],
        sot_request=[6.0, 7.0],
    )
    parts = split.medians()
    assert parts["python_ms"] == 12.0
    assert parts["handler_waits_ms"] == 3.0
    assert parts["sot_wait_ms"] == 7.0
    assert parts["redis_transport_and_reply_ms"] == 6.0 - 0.5 - 3.5
    assert parts["sot_request_ms"] == 6.5
    text = render_split(parts, 500, 3, "chalice local")
    assert "500-record mixed batch (medians of 3 batches, chalice local)" in text
    assert "2 call(s)" in text


def test_decorators_keep_answers_and_tell_the_caller_s_pushes_apart() -> None:
    timed = TimedSource(Source())
    assert timed.fetch_many(["INV-1"]) == {"INV-1": {"invoice_id": "INV-1"}}
    assert InstantSource(timed.answers).fetch_many(["INV-1", "INV-2"]) == {
        "INV-1": {"invoice_id": "INV-1"}
    }
    sink = TimedSink(Sink())
    entry = SinkEntry("m1", "clean", b"{}", "")
    sink.push([entry], source_id="s", received_at="t")
    worker = threading.Thread(
        target=sink.push, args=([entry],), kwargs={"source_id": "s", "received_at": "t"}
    )
    worker.start()
    worker.join()
    assert [push.on_caller for push in sink.pushes] == [True, False]


def test_runs_summary_takes_the_median_of_run_medians() -> None:
    def run(rate: float, ratio: float) -> dict[str, object]:
        return {
            "rows": [
                {"scenario": "handle_batch mixed", "rate_median": rate, "ratio": ratio},
                {"scenario": "cold start", "rate_median": None},
            ]
        }

    table = summarise([run(30_000, 15.0), run(40_000, 20.0), run(20_000, 10.0)])
    assert table[1] == ["handle_batch mixed", "30,000 (20,000-40,000)", "15.0x (10.0x-20.0x)", "-"]
    assert len(table) == 2
    assert "30,000 (20,000-40,000)" in render(table)


class PipelinedSink(Sink):
    def __init__(self) -> None:
        self.sent: list[list[str]] = []

    def send(self, entries, *, source_id, received_at, stats=None):  # type: ignore[no-untyped-def]
        self.sent.append([e.item_id for e in entries])
        return Reply([PushResult(True, e.outcome) for e in entries])


class Reply:
    def __init__(self, results: list[PushResult]) -> None:
        self.results = results

    def result(self) -> list[PushResult]:
        time.sleep(0.02)
        return self.results


def test_a_pipelined_call_counts_its_send_and_its_wait_for_the_reply() -> None:
    inner = PipelinedSink()
    sink = timed(inner)
    assert isinstance(sink, TimedPipelinedSink)
    assert not isinstance(timed(Sink()), TimedPipelinedSink)
    entry = SinkEntry("a", "clean", b"{}", "")
    reply = sink.send([entry], source_id="s", received_at="t")
    assert inner.sent == [["a"]]
    assert sink.pushes[0].seconds < 0.02
    assert reply.result() == [PushResult(True, "clean")]
    assert sink.pushes[0].seconds >= 0.02
    assert sink.pushes[0].on_caller
