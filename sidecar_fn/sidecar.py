"""IngestSidecar: the batch orchestration of parse, classify, repair, wrap and push."""

from __future__ import annotations

import threading
import uuid
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from logging import INFO, WARNING
from typing import Any

import orjson
from aws_lambda_powertools import Logger

from sidecar_fn.batch_pass import BatchPass
from sidecar_fn.batch_report import (
    COUNT_KEYS,
    FAILED,
    MALFORMED,
    RETRIES_EXHAUSTED,
    UNREPAIRABLE,
    BatchReport,
)
from sidecar_fn.batch_stats import (
    Drifts,
    batch_stats,
    positions,
    raw_contribution,
    replay_stats,
)
from sidecar_fn.batch_write import BatchWrite, Sent, drain
from sidecar_fn.dedupe import keyed_by_version
from sidecar_fn.drift import drifted_fields, lookup_problem
from sidecar_fn.drift_kinds import unexpected_fields
from sidecar_fn.drift_stats import (
    STATS_TTL_S,
    BatchStats,
    ContributionCache,
    bucket_hour,
    replay_contribution,
)
from sidecar_fn.envelope import build_meta, dump_envelope, format_received_at
from sidecar_fn.errors import (
    BatchFailed,
    SidecarError,
    SourceUnavailable,
    Unrepairable,
)
from sidecar_fn.fifo import hold_back_after_failure, message_groups
from sidecar_fn.healing import DriftTally, Healer, Triage
from sidecar_fn.local_repair import SOURCE_OF_TRUTH
from sidecar_fn.malformed import malformed_error
from sidecar_fn.ports import (
    CLEAN,
    MAIN_OUTCOMES,
    PROBE,
    REPAIRED,
    MetricsSink,
    Retirement,
    SinkEntry,
    SourceOfTruth,
    StreamSink,
)
from sidecar_fn.records import Item, parse_event
from sidecar_fn.replays import Replay
from sidecar_fn.schema import ID_FIELD, Schema
from sidecar_fn.telemetry import LogLine, RecordLog
from sidecar_fn.write_order import unordered

__all__ = [
    "COUNT_KEYS",
    "FAILED",
    "LOCAL_REPAIR_SOURCE",
    "MALFORMED",
    "NO_TIME_LEFT",
    "RETRIES_EXHAUSTED",
    "UNREPAIRABLE",
    "BatchReport",
    "IngestSidecar",
]

_UNSET = SinkEntry("", PROBE, b"", "")
NO_TIME_LEFT = "no time left before the invocation deadline to ask the source of truth"
LOCAL_REPAIR_SOURCE = "local"
WRITE_PART_RECORDS = 100
"""Records of a standard SQS batch per script call sent while the rest is still read or the
source of truth asked (0: one call for everything finished before it answers)."""


def _origin(replays: Mapping[str, Replay] | None, item: Item) -> str | None:
    """The original item id of a replayed item (None outside a replay)."""
    return None if replays is None else replays[item.item_id].retirement.redriven_from


def _position(found: tuple[Any, ...]) -> int:
    """The entry index a `BatchPass.clean` or `.unusual` element starts with."""
    index: int = found[0]
    return index


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _records_of(items: Sequence[tuple[str, bytes]]) -> dict[int, dict[str, Any]]:
    """The JSON objects among raw `(item_id, raw)` pairs, by index."""
    records: dict[int, dict[str, Any]] = {}
    for index, (_, raw) in enumerate(items):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if type(record) is dict:
            records[index] = record
    return records


class IngestSidecar:
    """Detects drift, repairs from the source of truth, wraps and pushes records.

    `handle_batch` is the Lambda path; `detect_drift`, `repair_record` and `wrap_and_push`
    are the single-record API and follow the same rules.
    """

    def __init__(
        self,
        *,
        source_id: str,
        schema: Schema,
        source: SourceOfTruth,
        sink: StreamSink,
        logger: Logger,
        metrics: MetricsSink,
        repair_source: str = "salesforce",
        default_budget_s: float = 10.0,
        deadline_reserve_s: float = 1.0,
        clock: Callable[[], datetime] = _utcnow,
        verify_share: float = 0.05,
        stats_ttl_s: int = STATS_TTL_S,
        dedupe_fields: tuple[str, ...] = (),
        write_part: int = WRITE_PART_RECORDS,
    ) -> None:
        self.source_id = source_id
        self.schema = schema
        self.source = source
        self.sink = sink
        self.logger = logger
        self.metrics = metrics
        self.repair_source = repair_source
        self._default_budget_s = default_budget_s
        self._deadline_reserve_s = deadline_reserve_s
        self._clock = clock
        self.healer = Healer(schema, verify_share=verify_share)
        self._stats_ttl_s = stats_ttl_s
        self.dedupe_fields = dedupe_fields
        self._write_part = write_part
        self._contributions = ContributionCache()
        self.record_log = RecordLog(logger)
        self._fetch_pool: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def detect_drift(self, record: Mapping[str, Any]) -> bool:
        """True when an expected field is missing, null or of the wrong type."""
        return bool(drifted_fields(record, self.schema))

    def repair_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The record with its drifted fields filled from the source of truth.

        Raises Unrepairable when the source cannot supply them and SourceUnavailable when
        it cannot answer now. A record without drift comes back as an unchanged copy.
        """
        drifted = drifted_fields(record, self.schema)
        if not drifted:
            return dict(record)
        label = record.get(ID_FIELD)
        triage = self.healer.triage(str(label), record, drifted, DriftTally())
        if triage.needs_source:
            problem = lookup_problem(triage.record)
            if problem is not None and triage.remaining:
                raise Unrepairable(problem)
            triage.verify = triage.verify and problem is None
        if not triage.needs_source:
            self.logger.info(
                f"Drift Detected for {label}. Repaired locally.",
                extra={"invoice_id": label, "drift_kinds": triage.kinds},
            )
            repaired, repairs = triage.record, triage.repairs
        else:
            invoice_id = triage.record[ID_FIELD]
            self.logger.info(
                f"Drift Detected for {invoice_id}. Fetching repair...",
                extra={"invoice_id": invoice_id, "drifted_fields": drifted},
            )
            fetched = self.source.fetch_many([invoice_id], budget_s=self._default_budget_s)
            if invoice_id not in fetched:
                if triage.remaining:
                    raise SourceUnavailable(f"source of truth did not answer for {invoice_id}")
                fetched = {invoice_id: None}
            repaired, repairs, _ = self.healer.finish(triage, fetched[invoice_id])
        self.logger.info(
            "Record Repaired.",
            extra={"invoice_id": label, "repaired_fields": drifted, "repairs": repairs},
        )
        return repaired

    def wrap_and_push(self, record: Mapping[str, Any], *, item_id: str | None = None) -> str:
        """Run one record, as received, through the batch path; return its outcome.

        The item id defaults to the record's invoice id (a random one if it has none).
        Raises SidecarError when the record cannot be finished now.
        """
        if item_id is None:
            invoice_id = record.get(ID_FIELD)
            item_id = invoice_id if isinstance(invoice_id, str) else f"adhoc-{uuid.uuid4()}"
        report = self._process([Item(item_id, orjson.dumps(record))], self._default_budget_s)
        outcome = report.outcomes[item_id]
        if outcome == FAILED:
            raise SidecarError(report.errors[item_id])
        return outcome

    def handle_batch(self, event: Mapping[str, Any], context: Any = None) -> BatchReport:
        """Process one SQS or Kinesis event; see BatchReport."""
        items, groups = parse_event(event), message_groups(event)
        early = unordered(event) and not self.dedupe_fields
        return self._process(items, self._budget(context), groups, write_early=early)

    def invoke(self, event: Mapping[str, Any], context: Any = None) -> BatchReport:
        """`handle_batch` with Lambda's error semantics: raise BatchFailed, after the
        partial batch response is built, when every record of the batch failed.

        A batch that fails entirely means Redis or the source of truth is down; raising
        makes the invocation count in Lambda's `Errors` metric and lets the trigger back
        off. The records are redelivered either way.
        """
        report = self.handle_batch(event, context)
        if report.all_failed:
            first = report.errors.get(report.failures[0], "no detail")
            self.logger.error(
                "Every record of the batch failed; raising so that the invocation counts "
                "as an error.",
                extra={"records": len(report.failures), "error": first},
            )
            raise BatchFailed(report, report.lambda_response(), first)
        return report

    def replay(self, replays: Sequence[Replay], budget_s: float | None = None) -> BatchReport:
        """Run dead letters through the batch path again, each under its replay id.

        A recorded replay (main stream, or dead-lettered anew) removes its old dead-letter
        entry in the same write; its envelope says `meta.redriven_from`. Items that fail
        (source of truth down) keep their entry and come back in `failures`. Every replay
        of one call must come from the same UTC hour (their statistics bucket).
        """
        if not replays:
            return BatchReport()
        hours = {bucket_hour(r.received_at) for r in replays}
        if len(hours) != 1:
            raise ValueError("replays of one call must share the hour of their received_at")
        items = [Item(r.item_id, r.raw) for r in replays]
        by_id = {r.item_id: r for r in replays}
        if len(by_id) != len(replays):
            raise ValueError("replay item ids must be distinct")
        return self._process(items, budget_s or self._default_budget_s, replays=by_id)

    def dead_letter(
        self,
        items: Sequence[tuple[str, bytes]],
        reason: str,
        error: str,
        replays: Sequence[Replay] | None = None,
    ) -> None:
        """Dead-letter `(item_id, raw)` pairs under `reason`; items already recorded are left.

        With `replays` (aligned with `items`), each item is a replay that failed again: its
        new entry carries `redriven_from` and `attempts`, and its old entry is removed in
        the same write. Raises SinkUnavailable when Redis cannot take them.
        """
        if not reason or reason in MAIN_OUTCOMES:
            raise ValueError(f"{reason!r} is not a dead-letter reason")
        if not items:
            return
        if replays is not None and len(replays) != len(items):
            raise ValueError("replays must align with items")
        entries = [SinkEntry(item_id, reason, raw, error) for item_id, raw in items]
        received_at = format_received_at(self._clock())
        if self.dedupe_fields and replays is None:
            keyed_by_version(entries, _records_of(items), self.dedupe_fields)
        if replays is None:
            stats: BatchStats | None = None
            if self._stats_ttl_s:
                stats = BatchStats(bucket_hour(received_at), self._stats_ttl_s)
                for _, raw in items:
                    stats.add(raw_contribution(raw, reason, self.schema))
            results = self.sink.push(
                entries, source_id=self.source_id, received_at=received_at, stats=stats
            )
            self._writer(received_at).log_dead_letters(entries, results)
        else:
            by_bucket: dict[str, list[Replay]] = {}
            for r in replays:
                by_bucket.setdefault(bucket_hour(r.received_at), []).append(r)
            for hour, group in by_bucket.items():
                stats = BatchStats(hour, self._stats_ttl_s) if self._stats_ttl_s else None
                if stats is not None:
                    stats.extend(replay_contribution(r.previous_reason, reason) for r in group)
                group_entries = [SinkEntry(r.item_id, reason, r.raw, error) for r in group]
                results = self.sink.push(
                    group_entries,
                    source_id=self.source_id,
                    received_at=received_at,
                    stats=stats,
                    retire=[r.retirement for r in group],
                )
                self._writer(received_at).log_dead_letters(group_entries, results)
        self.logger.warning(
            "Items dead-lettered.",
            extra={"reason": reason, "error": error, "item_ids": [i for i, _ in items]},
        )

    def _budget(self, context: Any) -> float:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return self._default_budget_s
        millis = float(remaining())
        return max(0.0, millis / 1000.0 - self._deadline_reserve_s)

    def _process(
        self,
        items: Sequence[Item],
        budget_s: float,
        fifo_groups: Sequence[str | None] | None = None,
        replays: Mapping[str, Replay] | None = None,
        *,
        write_early: bool = False,
    ) -> BatchReport:
        parts: list[Sent] = []
        try:
            return self._run(items, budget_s, fifo_groups, replays, write_early, parts)
        except BaseException:
            drain(parts)  # no connection stays checked out with a reply unread
            raise

    def _run(
        self,
        items: Sequence[Item],
        budget_s: float,
        fifo_groups: Sequence[str | None] | None,
        replays: Mapping[str, Replay] | None,
        write_early: bool,
        parts: list[Sent],
    ) -> BatchReport:
        received_at = format_received_at(self._clock())
        report = BatchReport()
        batch = BatchPass()
        writer = self._writer(received_at)
        # A standard SQS batch is written in parts. Until a record needs the source of
        # truth, each part is sent as soon as it is classified and wrapped, so that Redis
        # writes it while the next part is read; from then on the rest is classified at
        # once, so that the request leaves as early as it can, and its parts are sent while
        # the source of truth answers.
        count = len(items)
        step = max(self._write_part if write_early and self._write_part else count, 1)
        sent = hi = 0
        while hi < count:
            lo, hi = hi, count if batch.pending else min(hi + step, count)
            self._classify(items, lo, hi, batch, report, received_at, replays)
            if hi < count and not batch.pending:
                parts.extend(self._send_finished(batch, sent, hi, received_at, replays, writer))
                sent = hi

        # The request goes first: its wait overlaps everything below.
        fetching = None
        pending, entries, drifts = batch.pending, batch.entries, batch.drifts
        if pending:
            report.drift.source_lookups += len(pending)
            ids = list(dict.fromkeys(t.record[ID_FIELD] for _, t, _ in pending))
            fetching = self._executor().submit(self._fetch, ids, budget_s)
        self.record_log.write(WARNING, "handle_batch", batch.warnings)
        self.record_log.write(INFO, "handle_batch", batch.drift_lines)
        if batch.unexpected:
            self.logger.warning(
                "Unexpected fields.",
                extra={
                    "fields": {k: len(v) for k, v in batch.unexpected.items()},
                    "item_ids": batch.unexpected,
                },
            )
        for lo in range(sent, count, step) if write_early else ():
            hi = min(lo + step, count)
            if hi == count and fetching is None:
                break  # the last part goes with the rest of the batch
            parts.extend(self._send_finished(batch, lo, hi, received_at, replays, writer))
        self._wrap_clean(batch.clean[batch.wrapped :], entries, received_at, replays)
        clean, unusual, parsed = batch.clean, batch.unusual, batch.parsed
        if fetching is not None:
            fetched, fetch_error = fetching.result()
            self._repair_pending(
                items, entries, pending, fetched, fetch_error, received_at, report, replays
            )
        if fifo_groups is not None:
            for index, reason in hold_back_after_failure(entries, fifo_groups).items():
                report.errors[items[index].item_id] = reason
        if self.dedupe_fields and replays is None:
            keyed_by_version(entries, parsed, self.dedupe_fields)
        stats: BatchStats | None = None
        retire: list[Retirement | None] | None = None
        if replays is not None:
            retire = [replays[entry.item_id].retirement for entry in entries]
        if not self._stats_ttl_s:
            pass
        elif replays is None:
            stats = self._batch_stats(entries, clean, unusual, drifts, received_at)
        else:
            stats = replay_stats(entries, drifts, replays, self._stats_ttl_s)
        if parts:
            written = writer.push_rest(items, entries, parts, report, stats)
        else:
            written = writer.push(items, entries, report, stats, retire)
        self.metrics.publish(report.metrics())
        if written and drifts:
            drift_counts: dict[str, int] = {}
            for index, (_, drifted, _) in drifts.items():
                if written[index]:
                    for name in drifted:
                        drift_counts[name] = drift_counts.get(name, 0) + 1
            if drift_counts:
                self.metrics.publish_by_field("drift", drift_counts)
        return report

    def _wrap_clean(
        self,
        clean: Sequence[tuple[int, Item, dict[str, Any]]],
        entries: list[SinkEntry],
        received_at: str,
        replays: Mapping[str, Replay] | None,
    ) -> None:
        """Put the envelope of each clean record in its entry (malformed if it has none)."""
        clean_meta = build_meta(
            source_id=self.source_id, item_id="", record_id=None, received_at=received_at
        )
        dumps = orjson.dumps
        for index, item, record in clean:
            meta = clean_meta.copy()
            meta["item_id"] = item.item_id
            meta["record_id"] = record[ID_FIELD]
            if replays is not None:
                meta["redriven_from"] = replays[item.item_id].retirement.redriven_from
            try:
                envelope = dumps({"meta": meta, "payload": record})
            except orjson.JSONEncodeError:
                try:
                    envelope = dump_envelope(meta, record)
                except ValueError as exc:
                    entries[index] = SinkEntry(item.item_id, MALFORMED, item.raw, str(exc))
                    continue
            entries[index] = SinkEntry(item.item_id, CLEAN, envelope, "")

    def _classify(
        self,
        items: Sequence[Item],
        lo: int,
        hi: int,
        batch: BatchPass,
        report: BatchReport,
        received_at: str,
        replays: Mapping[str, Replay] | None,
    ) -> None:
        """Read, check and triage items `lo` to `hi`: an entry each in `batch.entries`
        (malformed, unrepairable and locally repaired ones final, a placeholder for each
        clean record, a PROBE for each record waiting for the source of truth)."""
        schema = self.schema
        known = schema.known
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        entries, clean, unusual = batch.entries, batch.clean, batch.unusual
        drifts, parsed, unexpected = batch.drifts, batch.parsed, batch.unexpected
        for item in items[lo:hi]:
            if item.problem is not None:
                entries.append(SinkEntry(item.item_id, MALFORMED, item.raw, item.problem))
                continue
            try:
                record = loads(item.raw)
            except decode_error as exc:
                entries.append(
                    SinkEntry(item.item_id, MALFORMED, item.raw, malformed_error(item.raw, exc))
                )
                continue
            if type(record) is not dict:
                entries.append(
                    SinkEntry(
                        item.item_id, MALFORMED, item.raw, malformed_error(item.raw, None, record)
                    )
                )
                continue
            parsed[len(entries)] = record
            drifted = drifted_fields(record, schema)
            if not drifted:
                if known is not None and not known.issuperset(record):
                    self._note_unexpected(item.item_id, record, report, unexpected)
                    unusual.append((len(entries), record))
                clean.append((len(entries), item, record))
                entries.append(_UNSET)
                continue
            report.drifted += 1
            triage = self.healer.triage(item.item_id, record, drifted, report.drift)
            record = triage.record
            drifts[len(entries)] = (record, drifted, triage.kind_list)
            self._note_unexpected(item.item_id, record, report, unexpected)
            problem = lookup_problem(record) if triage.needs_source else None
            if problem is not None and not triage.remaining:
                triage.verify, problem = False, None
            if not triage.needs_source:
                entries.append(
                    self._local_entry(
                        item, triage, drifted, received_at, report, _origin(replays, item)
                    )
                )
                batch.drift_lines.append(
                    (
                        f"Drift Detected for {record.get(ID_FIELD)}. Repaired locally.",
                        {"item_id": item.item_id, "drift_kinds": triage.kinds},
                    )
                )
                batch.drift_lines.append(
                    (
                        "Record Repaired.",
                        {
                            "invoice_id": record.get(ID_FIELD),
                            "item_id": item.item_id,
                            "repaired_fields": drifted,
                            "repairs": triage.repairs,
                        },
                    )
                )
                continue
            if problem is not None:
                batch.warnings.append(
                    (
                        f"Drift Detected for item {item.item_id}. Not repairable: {problem}",
                        {"item_id": item.item_id, "drifted_fields": drifted},
                    )
                )
                entries.append(SinkEntry(item.item_id, UNREPAIRABLE, item.raw, problem))
                continue
            batch.drift_lines.append(
                (
                    f"Drift Detected for {record[ID_FIELD]}. Fetching repair...",
                    {
                        "item_id": item.item_id,
                        "drifted_fields": drifted,
                        "drift_kinds": triage.kinds,
                    },
                )
            )
            batch.pending.append((len(entries), triage, drifted))
            entries.append(SinkEntry(item.item_id, PROBE, b"", ""))

    def _send_finished(
        self,
        batch: BatchPass,
        lo: int,
        hi: int,
        received_at: str,
        replays: Mapping[str, Replay] | None,
        writer: BatchWrite,
    ) -> list[Sent]:
        """Wrap the clean records before `hi` not wrapped yet and send the finished entries
        among `lo` to `hi` (with their statistics) as one script call, its reply read at the
        end of the batch. Standard SQS batches only: parts carry no order."""
        entries, clean, unusual = batch.entries, batch.clean, batch.unusual
        first_clean, first_unusual = batch.wrapped, batch.unusual_sent
        last_clean = bisect_left(clean, hi, first_clean, key=_position)
        last_unusual = bisect_left(unusual, hi, first_unusual, key=_position)
        self._wrap_clean(clean[first_clean:last_clean], entries, received_at, replays)
        batch.wrapped, batch.unusual_sent = last_clean, last_unusual
        indices = [i for i in range(lo, hi) if entries[i].outcome != PROBE]
        if not indices:
            return []
        stats = None
        if self._stats_ttl_s:
            part = self._batch_stats(
                entries,
                clean[first_clean:last_clean],
                unusual[first_unusual:last_unusual],
                batch.drifts,
                received_at,
            )
            stats = positions(part, indices)
        return [writer.send_part(self._executor(), entries, indices, stats)]

    def _note_unexpected(
        self,
        item_id: str,
        record: Mapping[str, Any],
        report: BatchReport,
        seen: dict[str, list[str]],
    ) -> None:
        """Count and remember (for one log line a batch) fields no schema field names."""
        for name in unexpected_fields(record, self.schema):
            report.drift.unexpected[name] += 1
            ids = seen.setdefault(name, [])
            if len(ids) < 5:
                ids.append(item_id)

    def _executor(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._fetch_pool is None:
                self._fetch_pool = ThreadPoolExecutor(
                    max_workers=8, thread_name_prefix="sidecar-fetch"
                )
            return self._fetch_pool

    def _fetch(self, ids: list[str], budget_s: float) -> tuple[Mapping[str, Any], str]:
        """Ask the source of truth (in a worker, while clean envelopes are built)."""
        if budget_s <= 0:
            return {}, NO_TIME_LEFT
        try:
            return self.source.fetch_many(ids, budget_s=budget_s), ""
        except SourceUnavailable as exc:
            return {}, str(exc)

    def _repair_pending(
        self,
        items: Sequence[Item],
        entries: list[SinkEntry],
        pending: list[tuple[int, Triage, tuple[str, ...]]],
        fetched: Mapping[str, Any],
        fetch_error: str,
        received_at: str,
        report: BatchReport,
        replays: Mapping[str, Replay] | None = None,
    ) -> None:
        deferred = 0
        repaired_lines: list[LogLine] = []
        warnings: list[LogLine] = []
        for index, triage, drifted in pending:
            item = items[index]
            invoice_id = triage.record[ID_FIELD]
            if invoice_id not in fetched:
                if not triage.remaining:
                    entries[index] = self._local_entry(
                        item, triage, drifted, received_at, report, _origin(replays, item)
                    )
                    continue
                deferred += 1
                report.errors[item.item_id] = (
                    fetch_error or f"source of truth did not answer for {invoice_id}"
                )
                continue
            try:
                repaired, repairs, disagreed = self.healer.finish(triage, fetched[invoice_id])
            except Unrepairable as exc:
                warnings.append(
                    (
                        "Record Unrepairable.",
                        {"invoice_id": invoice_id, "item_id": item.item_id, "error": str(exc)},
                    )
                )
                entries[index] = SinkEntry(item.item_id, UNREPAIRABLE, item.raw, str(exc))
                continue
            if triage.repairs and fetched[invoice_id] is not None:
                report.drift.verified += 1
            for d in disagreed:
                report.drift.verify_disagreements += 1
                warnings.append(
                    (
                        "Local repair disagrees with the source of truth; source value kept, "
                        "local repair of the field off.",
                        {
                            "invoice_id": invoice_id,
                            "item_id": item.item_id,
                            "field": d.field,
                            "how": triage.repairs[d.field],
                            "local_value": d.local,
                            "source_value": d.source,
                        },
                    )
                )
            entries[index] = self._repaired_entry(
                item,
                repaired,
                drifted,
                repairs,
                triage.kinds,
                received_at,
                report,
                _origin(replays, item),
            )
            if entries[index].outcome == REPAIRED:
                repaired_lines.append(
                    (
                        "Record Repaired.",
                        {
                            "invoice_id": invoice_id,
                            "item_id": item.item_id,
                            "repaired_fields": drifted,
                            "repairs": repairs,
                        },
                    )
                )
        self.record_log.write(INFO, "repair", repaired_lines)
        self.record_log.write(WARNING, "repair", warnings)
        if deferred and fetch_error == NO_TIME_LEFT:
            self.logger.warning(
                "NO TIME LEFT to ask the source of truth: the invocation's remaining time is"
                " within the deadline reserve (AOS_DEADLINE_RESERVE_SECONDS), so every drifted"
                " record of this batch is handed back unrepaired; raise the function timeout.",
                extra={"records": deferred, "deadline_reserve_s": self._deadline_reserve_s},
            )
        elif deferred:
            self.logger.warning(
                "Source of truth did not answer; drifted records not yet recorded are handed "
                "back for redelivery.",
                extra={"records": deferred, "error": fetch_error or "partial answer"},
            )

    def _local_entry(
        self,
        item: Item,
        triage: Triage,
        drifted: tuple[str, ...],
        received_at: str,
        report: BatchReport,
        redriven_from: str | None = None,
    ) -> SinkEntry:
        """The entry of a record repaired without the source of truth."""
        report.drift.repaired_locally += 1
        return self._repaired_entry(
            item,
            triage.record,
            drifted,
            triage.repairs,
            triage.kinds,
            received_at,
            report,
            redriven_from,
        )

    def _repaired_entry(
        self,
        item: Item,
        record: dict[str, Any],
        drifted: tuple[str, ...],
        repairs: Mapping[str, str],
        kinds: Mapping[str, str],
        received_at: str,
        report: BatchReport,
        redriven_from: str | None = None,
    ) -> SinkEntry:
        """The main-stream entry of a repaired record (unrepairable if it cannot be written)."""
        report.drift.repairs.update(repairs.values())
        from_source = SOURCE_OF_TRUTH in repairs.values()
        meta = build_meta(
            source_id=self.source_id,
            item_id=item.item_id,
            record_id=record.get(ID_FIELD),
            received_at=received_at,
            drifted_fields=drifted,
            repaired_fields=drifted,
            repair_source=self.repair_source if from_source else LOCAL_REPAIR_SOURCE,
            repairs=repairs,
            drift_kinds=kinds,
        )
        if redriven_from is not None:
            meta["redriven_from"] = redriven_from
        try:
            envelope = dump_envelope(meta, record)
        except ValueError as exc:
            return SinkEntry(item.item_id, UNREPAIRABLE, item.raw, str(exc))
        return SinkEntry(item.item_id, REPAIRED, envelope, "")

    def _batch_stats(
        self,
        entries: Sequence[SinkEntry],
        clean: Sequence[tuple[int, Item, dict[str, Any]]],
        unusual: Sequence[tuple[int, dict[str, Any]]],
        drifts: Drifts,
        received_at: str,
    ) -> BatchStats:
        """Each entry's contribution to the batch's hourly bucket (see batch_stats)."""
        return batch_stats(
            entries,
            clean,
            unusual,
            drifts,
            received_at,
            known=self.schema.known,
            contributions=self._contributions,
            ttl_s=self._stats_ttl_s,
        )

    def _writer(self, received_at: str) -> BatchWrite:
        """The write of one batch, to the sink this sidecar holds now."""
        return BatchWrite(self.sink, self.source_id, received_at, self.logger, self.record_log)
