"""BatchWrite: one batch's write to the stream sink, and the counting of its outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from logging import INFO

from aws_lambda_powertools import Logger

from sidecar_fn.batch_report import BatchReport
from sidecar_fn.batch_stats import positions
from sidecar_fn.drift_stats import BatchStats
from sidecar_fn.errors import SinkUnavailable
from sidecar_fn.ports import MAIN_OUTCOMES, PROBE, PushResult, Retirement, SinkEntry, StreamSink
from sidecar_fn.records import Item
from sidecar_fn.telemetry import LogLine, RecordLog


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
        sent: Future[list[PushResult]] | None = None,
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

    def send_early(
        self,
        executor: ThreadPoolExecutor,
        entries: Sequence[SinkEntry],
        first: Sequence[int],
        stats: BatchStats | None,
    ) -> Future[list[PushResult]]:
        """Send the entries that need no answer from the source of truth (`first`, with
        their part of `stats`) from a worker while it is asked; Redis runs that script on
        its own core meanwhile."""
        part = [entries[index] for index in first]
        return executor.submit(
            self.sink.push,
            part,
            source_id=self.source_id,
            received_at=self.received_at,
            stats=stats,
        )

    def push_rest(
        self,
        items: Sequence[Item],
        entries: Sequence[SinkEntry],
        first: Sequence[int],
        sent: Future[list[PushResult]],
        report: BatchReport,
        stats: BatchStats | None,
    ) -> list[bool]:
        """Count the early part's outcomes, write and count the rest; the batch's items
        each end in exactly one of the two script calls, failures in delivery order."""
        early = set(first)
        rest = [index for index in range(len(entries)) if index not in early]
        written = [False] * len(entries)
        for indices, part_stats, reply in (
            (first, None, sent),
            (rest, stats and positions(stats, rest), None),
        ):
            if not indices:
                continue
            part = self.push(
                [items[i] for i in indices],
                [entries[i] for i in indices],
                report,
                part_stats,
                sent=reply,
            )
            for index, new in zip(indices, part, strict=False):
                written[index] = new
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
