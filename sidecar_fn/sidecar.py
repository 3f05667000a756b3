"""IngestSidecar: the batch orchestration of parse, classify, repair, wrap and push."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from logging import INFO, WARNING
from typing import Any

import orjson
from aws_lambda_powertools import Logger

from sidecar_fn.dedupe import keyed_by_version
from sidecar_fn.drift import drifted_fields, lookup_problem
from sidecar_fn.envelope import build_meta, dump_envelope, format_received_at
from sidecar_fn.errors import SidecarError, SinkUnavailable, SourceUnavailable, Unrepairable
from sidecar_fn.fifo import hold_back_after_failure, message_groups
from sidecar_fn.ports import (
    CLEAN,
    MAIN_OUTCOMES,
    PROBE,
    REPAIRED,
    MetricsSink,
    SinkEntry,
    SourceOfTruth,
    StreamSink,
)
from sidecar_fn.records import Item, parse_event
from sidecar_fn.repair import merge
from sidecar_fn.schema import ID_FIELD, Schema
from sidecar_fn.telemetry import LogLine, RecordLog

MALFORMED = "malformed"
UNREPAIRABLE = "unrepairable"
RETRIES_EXHAUSTED = "retries_exhausted"
FAILED = "failed"
COUNT_KEYS = (CLEAN, REPAIRED, MALFORMED, UNREPAIRABLE, RETRIES_EXHAUSTED, FAILED)


_UNSET = SinkEntry("", PROBE, b"", "")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class BatchReport:
    """What became of each item of one batch.

    `counts` has one key per outcome (clean, repaired, malformed, unrepairable,
    retries_exhausted, failed) and sums to the number of records delivered; an item
    already recorded by an earlier delivery counts under that first outcome and also in
    `duplicates`. `failures` lists the item ids to hand back to the trigger.
    """

    outcomes: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    drifted: int = 0
    duplicates: int = 0

    def lambda_response(self) -> dict[str, list[dict[str, str]]]:
        """Lambda's partial batch response."""
        return {"batchItemFailures": [{"itemIdentifier": item_id} for item_id in self.failures]}

    def metrics(self) -> dict[str, int]:
        """The per-batch metric set: counts plus drifted and duplicates."""
        return {**self.counts, "drifted": self.drifted, "duplicates": self.duplicates}


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


def _malformed_error(exc: Exception | None, value: Any) -> str:
    if exc is not None:
        return f"not valid JSON: {exc}"
    kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
    return f"not a JSON object: the record is {kind}"


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
        dedupe_fields: tuple[str, ...] = (),
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
        self.dedupe_fields = dedupe_fields
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
        problem = lookup_problem(record)
        if problem is not None:
            raise Unrepairable(problem)
        invoice_id = record[ID_FIELD]
        self.logger.info(
            f"Drift Detected for {invoice_id}. Fetching repair...",
            extra={"invoice_id": invoice_id, "drifted_fields": drifted},
        )
        fetched = self.source.fetch_many([invoice_id], budget_s=self._default_budget_s)
        if invoice_id not in fetched:
            raise SourceUnavailable(f"source of truth did not answer for {invoice_id}")
        repaired = merge(record, drifted, fetched[invoice_id], self.schema)
        self.logger.info(
            "Record Repaired.", extra={"invoice_id": invoice_id, "repaired_fields": drifted}
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
        return self._process(parse_event(event), self._budget(context), message_groups(event))

    def dead_letter(self, items: Sequence[tuple[str, bytes]], reason: str, error: str) -> None:
        """Dead-letter `(item_id, raw)` pairs under `reason`; items already recorded are left.

        Raises SinkUnavailable when Redis cannot take them.
        """
        if not reason or reason in MAIN_OUTCOMES:
            raise ValueError(f"{reason!r} is not a dead-letter reason")
        if not items:
            return
        entries = [SinkEntry(item_id, reason, raw, error) for item_id, raw in items]
        if self.dedupe_fields:
            keyed_by_version(entries, _records_of(items), self.dedupe_fields)
        received_at = format_received_at(self._clock())
        self.sink.push(entries, source_id=self.source_id, received_at=received_at)
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
    ) -> BatchReport:
        now = self._clock()
        received_at = format_received_at(now)
        source_id = self.source_id
        schema = self.schema
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        report = BatchReport()
        entries: list[SinkEntry] = []
        pending: list[tuple[int, dict[str, Any], tuple[str, ...]]] = []
        parsed: dict[int, dict[str, Any]] = {}
        clean: list[tuple[int, Item, dict[str, Any]]] = []
        warnings: list[LogLine] = []
        drift_lines: list[LogLine] = []

        for item in items:
            if item.problem is not None:
                entries.append(SinkEntry(item.item_id, MALFORMED, item.raw, item.problem))
                continue
            try:
                record = loads(item.raw)
            except decode_error as exc:
                entries.append(
                    SinkEntry(item.item_id, MALFORMED, item.raw, _malformed_error(exc, None))
                )
                continue
            if type(record) is not dict:
                entries.append(
                    SinkEntry(item.item_id, MALFORMED, item.raw, _malformed_error(None, record))
                )
                continue
            parsed[len(entries)] = record
            drifted = drifted_fields(record, schema)
            if not drifted:
                clean.append((len(entries), item, record))
                entries.append(_UNSET)
                continue
            report.drifted += 1
            problem = lookup_problem(record)
            if problem is not None:
                warnings.append(
                    (
                        f"Drift Detected for item {item.item_id}. Not repairable: {problem}",
                        {"item_id": item.item_id, "drifted_fields": drifted},
                    )
                )
                entries.append(SinkEntry(item.item_id, UNREPAIRABLE, item.raw, problem))
                continue
            drift_lines.append(
                (
                    f"Drift Detected for {record[ID_FIELD]}. Fetching repair...",
                    {"item_id": item.item_id, "drifted_fields": drifted},
                )
            )
            pending.append((len(entries), record, drifted))
            entries.append(SinkEntry(item.item_id, PROBE, b"", ""))

        self.record_log.write(WARNING, "handle_batch", warnings)
        self.record_log.write(INFO, "handle_batch", drift_lines)
        fetching = None
        if pending:
            ids = list(dict.fromkeys(record[ID_FIELD] for _, record, _ in pending))
            fetching = self._executor().submit(self._fetch, ids, budget_s)

        clean_meta = build_meta(
            source_id=source_id, item_id="", record_id=None, received_at=received_at
        )
        dumps = orjson.dumps
        for index, item, record in clean:
            meta = clean_meta.copy()
            meta["item_id"] = item.item_id
            meta["record_id"] = record[ID_FIELD]
            try:
                envelope = dumps({"meta": meta, "payload": record})
            except orjson.JSONEncodeError:
                envelope = dump_envelope(meta, record, raw_payload=item.raw)
            entries[index] = SinkEntry(item.item_id, CLEAN, envelope, "")

        if fetching is not None:
            fetched, fetch_error = fetching.result()
            self._repair_pending(items, entries, pending, fetched, fetch_error, received_at, report)
        if fifo_groups is not None:
            for index, reason in hold_back_after_failure(entries, fifo_groups).items():
                report.errors[items[index].item_id] = reason
        if self.dedupe_fields:
            keyed_by_version(entries, parsed, self.dedupe_fields)
        self._push(items, entries, received_at, report)
        self.metrics.publish(report.metrics())
        return report

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
            return {}, "no time left before the invocation deadline to ask the source of truth"
        try:
            return self.source.fetch_many(ids, budget_s=budget_s), ""
        except SourceUnavailable as exc:
            return {}, str(exc)

    def _repair_pending(
        self,
        items: Sequence[Item],
        entries: list[SinkEntry],
        pending: list[tuple[int, dict[str, Any], tuple[str, ...]]],
        fetched: Mapping[str, Any],
        fetch_error: str,
        received_at: str,
        report: BatchReport,
    ) -> None:
        deferred = 0
        repaired_lines: list[LogLine] = []
        warnings: list[LogLine] = []
        for index, record, drifted in pending:
            item = items[index]
            invoice_id = record[ID_FIELD]
            if invoice_id not in fetched:
                deferred += 1
                report.errors[item.item_id] = (
                    fetch_error or f"source of truth did not answer for {invoice_id}"
                )
                continue
            try:
                repaired = merge(record, drifted, fetched[invoice_id], self.schema)
            except Unrepairable as exc:
                warnings.append(
                    (
                        "Record Unrepairable.",
                        {"invoice_id": invoice_id, "item_id": item.item_id, "error": str(exc)},
                    )
                )
                entries[index] = SinkEntry(item.item_id, UNREPAIRABLE, item.raw, str(exc))
                continue
            meta = build_meta(
                source_id=self.source_id,
                item_id=item.item_id,
                record_id=invoice_id,
                received_at=received_at,
                drifted_fields=drifted,
                repaired_fields=drifted,
                repair_source=self.repair_source,
            )
            try:
                envelope = dump_envelope(meta, repaired)
            except ValueError as exc:
                entries[index] = SinkEntry(item.item_id, UNREPAIRABLE, item.raw, str(exc))
                continue
            entries[index] = SinkEntry(item.item_id, REPAIRED, envelope, "")
            repaired_lines.append(
                (
                    "Record Repaired.",
                    {"invoice_id": invoice_id, "item_id": item.item_id, "repaired_fields": drifted},
                )
            )
        self.record_log.write(INFO, "repair", repaired_lines)
        self.record_log.write(WARNING, "repair", warnings)
        if deferred:
            self.logger.warning(
                "Source of truth did not answer; drifted records not yet recorded are handed "
                "back for redelivery.",
                extra={"records": deferred, "error": fetch_error or "partial answer"},
            )

    def _push(
        self,
        items: Sequence[Item],
        entries: list[SinkEntry],
        received_at: str,
        report: BatchReport,
    ) -> None:
        counts = report.counts
        try:
            results = self.sink.push(entries, source_id=self.source_id, received_at=received_at)
        except SinkUnavailable as exc:
            self.logger.error(
                "Batch not written; every record handed back for redelivery.",
                extra={"records": len(items), "error": str(exc)},
            )
            for item in items:
                report.errors[item.item_id] = str(exc)
                self._fail(item.item_id, report)
            return
        for item, entry, result in zip(items, entries, results, strict=True):
            if result.written:
                outcome = entry.outcome
            elif result.outcome == PROBE:
                self._fail(item.item_id, report)
                continue
            else:
                outcome = result.outcome
                report.duplicates += 1
            report.outcomes[item.item_id] = outcome
            counts[outcome] = counts.get(outcome, 0) + 1

    @staticmethod
    def _fail(item_id: str, report: BatchReport) -> None:
        report.counts[FAILED] += 1
        if report.outcomes.get(item_id) != FAILED:
            report.outcomes[item_id] = FAILED
            report.failures.append(item_id)
