"""Where one batch's time goes: Python work, packing, the Redis script, the source-of-truth wait.

Each batch runs twice on fresh key spaces, back to back: once with the real HTTP source
of truth (its answers recorded) and once with those answers served instantly. The
difference is the wait the source of truth adds to the batch. Both runs go through
ports decorated with timers; packing is timed afterwards on the entries the sink was
given, and the script's own time comes from Redis (`INFO commandstats`).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from bench.counting import commandstats
from bench.events import LambdaContext, Pool, sqs_event
from bench.measure import quiet_stdout
from bench.services import BenchKeys
from sidecar_fn.drift_stats import BatchStats
from sidecar_fn.ports import (
    PushResult,
    Retirement,
    SinkEntry,
    SourceOfTruth,
    SourceRecord,
    StreamSink,
)
from sidecar_fn.redis_sink import RedisStreamSink


class TimedSource:
    """SourceOfTruth decorator: keeps every answer and the time each call took."""

    def __init__(self, inner: SourceOfTruth) -> None:
        self.inner = inner
        self.answers: dict[str, SourceRecord | None] = {}
        self.seconds: list[float] = []

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, SourceRecord | None]:
        """Ask the wrapped source, timed."""
        start = time.perf_counter()
        answer = self.inner.fetch_many(ids, budget_s=budget_s)
        self.seconds.append(time.perf_counter() - start)
        self.answers.update(answer)
        return answer


class InstantSource:
    """SourceOfTruth answering from recorded answers, without I/O."""

    def __init__(self, answers: Mapping[str, SourceRecord | None]) -> None:
        self.answers = answers

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, SourceRecord | None]:
        """The recorded answer of each id."""
        return {i: self.answers[i] for i in ids if i in self.answers}


@dataclass
class Push:
    """One push: its entries, how long it took and whether the handler's thread waited on it."""

    entries: list[SinkEntry]
    source_id: str
    received_at: str
    stats: BatchStats | None
    retire: Sequence[Retirement | None] | None
    seconds: float
    on_caller: bool


class TimedSink:
    """StreamSink decorator: keeps every push's entries and time, and which thread made it."""

    def __init__(self, inner: StreamSink, caller: int | None = None) -> None:
        self.inner = inner
        self.caller = caller if caller is not None else threading.get_ident()
        self.pushes: list[Push] = []

    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        """Push through the wrapped sink, timed."""
        start = time.perf_counter()
        results = self.inner.push(
            entries, source_id=source_id, received_at=received_at, stats=stats, retire=retire
        )
        seconds = time.perf_counter() - start
        on_caller = threading.get_ident() == self.caller
        push = Push(list(entries), source_id, received_at, stats, retire, seconds, on_caller)
        self.pushes.append(push)
        return results


class _TimedReply:
    """A pipelined write's reply, read through the timing sink (see TimedPipelinedSink)."""

    def __init__(self, sink: TimedSink, push: Push, pending: Any) -> None:
        self._sink, self._push, self._pending = sink, push, pending

    def result(self) -> list[PushResult]:
        """The wrapped reply; the time blocked here is added to the call's time."""
        start = time.perf_counter()
        try:
            return cast(list[PushResult], self._pending.result())
        finally:
            self._push.seconds += time.perf_counter() - start


class TimedPipelinedSink(TimedSink):
    """TimedSink for a sink that pipelines (`send`): a sent call's time is what the caller
    spends sending it plus what it later waits for the reply."""

    def send(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
    ) -> _TimedReply:
        """Send through the wrapped sink, timed."""
        start = time.perf_counter()
        pending = self.inner.send(  # type: ignore[attr-defined]
            entries, source_id=source_id, received_at=received_at, stats=stats
        )
        seconds = time.perf_counter() - start
        on_caller = threading.get_ident() == self.caller
        push = Push(list(entries), source_id, received_at, stats, None, seconds, on_caller)
        self.pushes.append(push)
        return _TimedReply(self, push, pending)


def timed(inner: StreamSink) -> TimedSink:
    """The timing decorator that fits `inner` (pipelined or not)."""
    return TimedPipelinedSink(inner) if hasattr(inner, "send") else TimedSink(inner)


@dataclass
class BatchSplit:
    """Per-batch milliseconds of each part, one value per measured batch.

    `push` is the time of every script call of the batch; `push_waited` the part the
    handler's own thread spent in them (a write sent from a worker while the handler
    waits for the source of truth does not add to the batch)."""

    total: list[float] = field(default_factory=list)
    total_instant: list[float] = field(default_factory=list)
    push: list[float] = field(default_factory=list)
    push_waited: list[float] = field(default_factory=list)
    cpu_instant: list[float] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    packing: list[float] = field(default_factory=list)
    script: list[float] = field(default_factory=list)
    sot_request: list[float] = field(default_factory=list)

    def medians(self) -> dict[str, float]:
        """Median ms of each part, plus the derived ones (Python, SoT wait, transport)."""

        def med(values: list[float]) -> float:
            return statistics.median(values) if values else 0.0

        push, packing, script = med(self.push), med(self.packing), med(self.script)
        waits = zip(self.total_instant, self.cpu_instant, strict=True)
        return {
            "batch_ms": med(self.total),
            "batch_ms_instant_sot": med(self.total_instant),
            "python_ms": med(self.cpu_instant),
            "handler_waits_ms": med([t - c for t, c in waits]),
            "push_ms": push,
            "push_waited_ms": med(self.push_waited),
            "script_calls": med([float(w) for w in self.writes]),
            "packing_ms": packing,
            "redis_script_ms": script,
            "redis_transport_and_reply_ms": max(push - packing - script, 0.0),
            "sot_request_ms": med(self.sot_request),
            "sot_wait_ms": med(
                [t - i for t, i in zip(self.total, self.total_instant, strict=True)]
            ),
        }


def _packing_ms(sink: StreamSink, pushes: Sequence[Push]) -> float:
    """Time to serialise the batch's script calls again, outside the timed run."""
    if not isinstance(sink, RedisStreamSink):
        return 0.0
    start = time.perf_counter()
    for push in pushes:
        sink._pack(push.entries, push.source_id, push.received_at, push.stats, push.retire)
    return (time.perf_counter() - start) * 1000


SidecarFactory = Callable[[BenchKeys, SourceOfTruth | None], Any]


def _script_ms(admin: redis.Redis, before: dict[str, int]) -> float:
    after = commandstats(admin, "usec")
    return (after.get("evalsha", 0) - before.get("evalsha", 0)) / 1000


def measure_split(
    build: SidecarFactory, pool: Pool, admin: redis.Redis, batch_size: int, batches: int
) -> BatchSplit:
    """Run `batches` batches twice each (real source, instant source) and split their time."""
    split = BatchSplit()
    keys_real, keys_instant = BenchKeys.fresh("split-real"), BenchKeys.fresh("split-instant")
    real = build(keys_real, None)
    timed_source = TimedSource(real.source)
    real.source = timed_source
    real_sink = timed(real.sink)
    real.sink = real_sink
    instant = build(keys_instant, InstantSource(timed_source.answers))
    instant_sink = timed(instant.sink)
    instant.sink = instant_sink
    context = LambdaContext()
    try:
        with quiet_stdout():
            warm = pool.take(batch_size)
            real.handle_batch(sqs_event(warm), context)
            instant.handle_batch(sqs_event(warm), context)
            for _ in range(batches):
                texts = pool.take(batch_size)
                fetches = len(timed_source.seconds)
                start = time.perf_counter()
                real.handle_batch(sqs_event(texts), context)
                split.total.append((time.perf_counter() - start) * 1000)
                split.sot_request += [s * 1000 for s in timed_source.seconds[fetches:]]
                before = commandstats(admin, "usec")
                pushed = len(instant_sink.pushes)
                event = sqs_event(texts)
                cpu = time.thread_time()
                start = time.perf_counter()
                instant.handle_batch(event, context)
                split.total_instant.append((time.perf_counter() - start) * 1000)
                split.cpu_instant.append((time.thread_time() - cpu) * 1000)
                split.script.append(_script_ms(admin, before))
                pushes = instant_sink.pushes[pushed:]
                split.writes.append(len(pushes))
                split.push.append(sum(p.seconds for p in pushes) * 1000)
                split.push_waited.append(sum(p.seconds for p in pushes if p.on_caller) * 1000)
                split.packing.append(_packing_ms(instant_sink.inner, pushes))
    finally:
        keys_real.delete(admin)
        keys_instant.delete(admin)
    return split


def render_split(parts: Mapping[str, float], batch_size: int, batches: int, farm: str) -> str:
    """The split as a few lines of text."""
    return "\n".join(
        [
            f"split of a {batch_size}-record mixed batch (medians of {batches} batches, {farm}):",
            f"  batch                              {parts['batch_ms']:6.2f} ms"
            f"  ({parts['batch_ms_instant_sot']:.2f} ms with the source of truth answering"
            " instantly)",
            f"  handler thread CPU                 {parts['python_ms']:6.2f} ms"
            "  (parse, classify, repair, wrap, pack, count)",
            f"  handler waits, instant source      {parts['handler_waits_ms']:6.2f} ms"
            "  (Redis replies, worker threads)",
            f"  Redis script calls                 {parts['push_ms']:6.2f} ms"
            f"  ({parts['script_calls']:.0f} call(s): packing {parts['packing_ms']:.2f}"
            f" + script in Redis {parts['redis_script_ms']:.2f} + transport and reply"
            f" {parts['redis_transport_and_reply_ms']:.2f}; {parts['push_waited_ms']:.2f} ms"
            " of them on the handler thread)",
            f"  source-of-truth wait added         {parts['sot_wait_ms']:6.2f} ms"
            f"  (the request takes {parts['sot_request_ms']:.2f} ms in a worker thread)",
        ]
    )
