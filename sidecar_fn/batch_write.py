"""BatchWrite: one batch's write to the stream sink, and the counting of its outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from logging import INFO
from typing import NamedTuple, Protocol

from aws_lambda_powertools import Logger

from sidecar_fn.batch_report import BatchReport
from sidecar_fn.batch_stats import positions
from sidecar_fn.drift_stats import BatchStats
from sidecar_fn.errors import SinkUnavailable
from sidecar_fn.ports import MAIN_OUTCOMES, PROBE, PushResult, Retirement, SinkEntry, StreamSink
from sidecar_fn.records import Item
from sidecar_fn.telemetry import LogLine, RecordLog


class PendingWrite(Protocol):
    """A write already sent: a pipelined script call or a worker's `push`."""

    def result(self) -> list[PushResult]:
        """The per-entry results; raises SinkUnavailable."""
        ...


class Sent(NamedTuple):
    """The entries (batch indices) of one script call sent before the rest of the batch."""

    indices: Sequence[int]
    pending: PendingWrite


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """The sink, source and log of one batch's write (built per batch, so a sidecar whose
    sink is swapped writes to the new one)."""

    sink: StreamSink
    source_id: str
    received_at: str
    logger: Logger
    record_log: RecordLog

    def push(
        self,
        items: Sequence[Item],
        entries: list[SinkEntry],
        report: BatchReport,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
        sent: PendingWrite | None = None,
    ) -> list[bool]:
        """Write the batch (or take the reply of a write `sent` already) and count outcomes;
        which entries were newly recorded (none when Redis failed)."""
        counts = report.counts
        try:
            results = (
                sent.result()
                if sent is not None
                else self.sink.push(
                    entries,
                    source_id=self.source_id,
                    received_at=self.received_at,
                    stats=stats,
                    retire=retire,
                )
            )
        except SinkUnavailable as exc:
            self.logger.error(
                "Batch not written; every record handed back for redelivery.",
                extra={"records": len(items), "error": str(exc)},
            )
            for item in items:
                report.errors[item.item_id] = str(exc)
                report.fail(item.item_id)
            return []
        self.log_dead_letters(entries, results)
        for item, entry, result in zip(items, entries, results, strict=True):
            if result.written:
                outcome = entry.outcome
            elif result.outcome == PROBE:
                report.fail(item.item_id)
                continue
            else:
                outcome = result.outcome
                report.duplicates += 1
                report.duplicate_ids.append(item.item_id)
            report.outcomes[item.item_id] = outcome
            counts[outcome] = counts.get(outcome, 0) + 1
        return [result.written for result in results]

    def send_part(
        self,
        executor: ThreadPoolExecutor,
        entries: Sequence[SinkEntry],
        indices: Sequence[int],
        stats: BatchStats | None,
    ) -> Sent:
        """Send the entries at `indices` (finished, with their part of `stats`) now and read
        the reply later: Redis runs the script on its own core meanwhile. A sink that can
        pipeline (`send`, see RedisStreamSink) sends from this thread; any other sink's
        `push` runs in a worker."""
        part = [entries[index] for index in indices]
        sent = self._pipelined(part, stats)
        if sent is None:
            sent = executor.submit(
                self.sink.push,
                part,
                source_id=self.source_id,
                received_at=self.received_at,
                stats=stats,
            )
        return Sent(indices, sent)

    def _pipelined(
        self, part: Sequence[SinkEntry], stats: BatchStats | None
    ) -> PendingWrite | None:
        """The write of `part` sent now through the sink's `send`; None for a sink that
        cannot pipeline."""
        send = getattr(self.sink, "send", None)
        if send is None:
            return None
        sent: PendingWrite = send(
            part, source_id=self.source_id, received_at=self.received_at, stats=stats
        )
        return sent

    def push_rest(
        self,
        items: Sequence[Item],
        entries: Sequence[SinkEntry],
        parts: Sequence[Sent],
        report: BatchReport,
        stats: BatchStats | None,
    ) -> list[bool]:
        """Write the entries no part holds (pipelined behind the parts when the sink can),
        then count every call's outcomes in the order sent; each item of the batch ends in
        exactly one script call, failures in delivery order."""
        taken = [False] * len(entries)
        for part in parts:
            for index in part.indices:
                taken[index] = True
        rest = [index for index, done in enumerate(taken) if not done]
        written = [False] * len(entries)
        rest_stats = stats and positions(stats, rest)
        rest_sent = self._pipelined([entries[i] for i in rest], rest_stats) if rest else None
        calls: list[tuple[Sequence[int], BatchStats | None, PendingWrite | None]] = [
            (part.indices, None, part.pending) for part in parts
        ]
        calls.append((rest, rest_stats, rest_sent))
        for indices, part_stats, reply in calls:
            if not indices:
                continue
            new = self.push(
                [items[i] for i in indices],
                [entries[i] for i in indices],
                report,
                part_stats,
                sent=reply,
            )
            for index, was_written in zip(indices, new, strict=False):
                written[index] = was_written
        if len(report.failures) > 1:  # the usual batch has none: skip the index of 500 ids
            order = {item.item_id: position for position, item in enumerate(items)}
            report.failures.sort(key=lambda item_id: order.get(item_id, 0))
        return written

    def log_dead_letters(self, entries: Sequence[SinkEntry], results: Sequence[PushResult]) -> None:
        """One INFO line per entry this write put in the dead-letter stream, in one write."""
        if not self.record_log.enabled(INFO):
            return
        lines: list[LogLine] = [
            (
                "Record Dead-Lettered.",
                {"item_id": entry.item_id, "reason": entry.outcome, "error": entry.error},
            )
            for entry, result in zip(entries, results, strict=True)
            if result.written and entry.outcome not in MAIN_OUTCOMES
        ]
        self.record_log.write(INFO, "dead_letter", lines)


def drain(parts: Sequence[Sent]) -> None:
    """Read the reply of every part sent, whatever it is: a batch that stops with an error
    after sending parts (its items are redelivered; what the parts wrote is found
    recorded then) must not leave their connections checked out."""
    for part in parts:
        with suppress(Exception):
            part.pending.result()
