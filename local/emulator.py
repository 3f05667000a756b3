"""Lambda event source mapping emulation: invoke, redeliver, dead-letter, checkpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from local.batch_response import reported_failures
from local.events import EventFactory, StreamRecord
from local.lambda_context import LambdaContext
from local.pages import batches
from local.summary import RunTotals
from sidecar_fn.errors import BatchFailed

RETRIES_EXHAUSTED = "retries_exhausted"


class BatchReportLike(Protocol):
    """What `handle_batch` returns: the Lambda response and per-outcome counts.

    An item that an earlier delivery already finished counts under its first outcome;
    an optional `duplicates` attribute says how many such items the batch held, and an
    optional `errors` mapping (item id -> error) why each failed item could not be finished.
    """

    @property
    def counts(self) -> Mapping[str, int]:
        """Outcome counts of the invocation (clean, repaired, ..., failed)."""

    def lambda_response(self) -> Mapping[str, Any]:
        """`{"batchItemFailures": [{"itemIdentifier": ...}, ...]}`."""


class SidecarLike(Protocol):
    """The two sidecar operations the event source mapping needs."""

    def invoke(self, event: dict[str, Any], context: Any) -> BatchReportLike:
        """Process one event as the Lambda handler does; items that cannot be finished now
        come back as failures, and BatchFailed is raised when every item failed."""

    def dead_letter(self, items: Sequence[tuple[str, bytes]], reason: str, error: str) -> None:
        """Push `(item_id, raw)` pairs to the dead-letter stream, idempotently."""


class CheckpointStore(Protocol):
    """Where the next cursor is kept."""

    def save(self, cursor: int) -> None:
        """Store the next cursor to read."""


class RunAborted(Exception):
    """A batch could not be accounted for; the checkpoint stays before it."""


@dataclass(frozen=True)
class EmulatorSettings:
    """How batches are delivered and redelivered."""

    batch_size: int = 100
    max_attempts: int = 3
    retry_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0
    invocation_timeout_ms: int = 30_000

    def backoff(self, attempt: int) -> float:
        """Pause before redelivering after delivery number `attempt` failed."""
        return float(min(self.max_backoff_seconds, self.retry_backoff_seconds * 2 ** (attempt - 1)))


class Emulator:
    """Feeds records to the sidecar the way Lambda's event source mapping does.

    Each batch is delivered; items listed in `batchItemFailures` are delivered again
    after a pause, up to `max_attempts` deliveries in all, then dead-lettered with
    reason `retries_exhausted`. Only then is the batch accounted for and the cursor
    after it checkpointed, so a run killed at any point restarts without a gap, and the
    sidecar's idempotency makes the replayed batch harmless. An invocation that raises,
    or answers ids it was not given, fails the whole batch, as in Lambda; BatchFailed (the
    sidecar's "every record handed back") is such an error.
    """

    def __init__(
        self,
        sidecar: SidecarLike,
        events: EventFactory,
        checkpoints: CheckpointStore,
        *,
        settings: EmulatorSettings,
        stop: threading.Event | None = None,
        on_batch: Callable[[RunTotals], None] | None = None,
        warn: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._sidecar = sidecar
        self._events = events
        self._checkpoints = checkpoints
        self._settings = settings
        self._stop = stop or threading.Event()
        self._on_batch = on_batch
        self._warn = warn
        self._sleep = sleep
        self._now_ms = now_ms

    def run(self, records: Iterable[StreamRecord], totals: RunTotals) -> RunTotals:
        """Process `records` batch by batch into `totals` until they end or a stop is requested.

        `totals` holds only fully accounted batches; if an exception escapes, the batch in
        flight is left out of it (and of the checkpoint).
        """
        for batch in batches(records, self._settings.batch_size):
            if self._stop.is_set():
                break
            try:
                batch_totals = self._process(batch)
            except BaseException:
                totals.abandoned = len(batch)
                raise
            self._merge(totals, batch_totals, len(batch))
            next_cursor = batch[-1].sequence + 1
            self._checkpoints.save(next_cursor)
            totals.next_cursor = next_cursor
            if self._on_batch is not None:
                self._on_batch(totals)
        return totals

    @staticmethod
    def _merge(totals: RunTotals, batch: RunTotals, size: int) -> None:
        totals.read += size
        totals.batches += 1
        for name in (
            "clean",
            "repaired",
            "malformed",
            "unrepairable",
            "retries_exhausted",
            "retries",
            "already_processed",
            "invocations",
            "failed_invocations",
        ):
            setattr(totals, name, getattr(totals, name) + getattr(batch, name))
        totals.drift.add(batch.drift)

    def _process(self, batch: list[StreamRecord]) -> RunTotals:
        """Deliver one batch until every record has an outcome.

        Records the streams already held (a replay after a restart) are the duplicates of
        the first delivery that answered; duplicates in a later delivery were written by an
        earlier delivery of this same batch, whose answer was rejected.
        """
        counts = RunTotals()
        pending = [(self._events.item_id(record.sequence), record) for record in batch]
        attempt = 1
        replays_known = False
        last_errors: dict[str, str] = {}
        while True:
            failed, duplicates = self._deliver(pending, attempt, counts, last_errors)
            if duplicates is not None and not replays_known:
                counts.already_processed = duplicates
                replays_known = True
            if not failed:
                return counts
            if attempt >= self._settings.max_attempts:
                self._dead_letter(failed, attempt, last_errors)
                counts.retries_exhausted += len(failed)
                return counts
            counts.retries += len(failed)
            self._sleep(self._settings.backoff(attempt))
            pending = failed
            attempt += 1

    def _deliver(
        self,
        pending: list[tuple[str, StreamRecord]],
        attempt: int,
        counts: RunTotals,
        last_errors: dict[str, str],
    ) -> tuple[list[tuple[str, StreamRecord]], int | None]:
        """One delivery of `pending`: the items to deliver again and the duplicates count.

        `last_errors` keeps, per failed item, the last error that says why: the
        sidecar's own (e.g. the source of truth's 503), else what failed the invocation.
        """
        event = self._events.build(
            [record for _, record in pending], attempt=attempt, now_ms=self._now_ms()
        )
        context = LambdaContext(timeout_ms=self._settings.invocation_timeout_ms)
        counts.invocations += 1
        try:
            report = self._sidecar.invoke(event, context)
            response = report.lambda_response()
        except BatchFailed as exc:  # an error for Lambda; every record handed back
            counts.failed_invocations += 1
            reason = str(exc)
            errors = _errors_of(exc.report)
            for item_id, _ in pending:
                error = errors.get(item_id)
                last_errors[item_id] = error if isinstance(error, str) and error else reason
            return pending, int(getattr(exc.report, "duplicates", 0))
        except Exception as exc:  # Lambda turns any handler error into a failed batch
            counts.failed_invocations += 1
            reason = f"handler raised {type(exc).__name__}: {exc}"
            self._report(f"delivery {attempt} of {len(pending)} records failed: {reason}")
            last_errors.update((item_id, reason) for item_id, _ in pending)
            return pending, None
        duplicates = int(getattr(report, "duplicates", 0))
        failed_ids = reported_failures(response, [item_id for item_id, _ in pending])
        if failed_ids is None:
            counts.failed_invocations += 1
            reason = "handler answered invalid batchItemFailures"
            self._report(f"delivery {attempt} of {len(pending)} records failed: {reason}")
            last_errors.update((item_id, reason) for item_id, _ in pending)
            return pending, duplicates
        counts.add_outcomes(report.counts)
        if attempt == 1:
            counts.drift.add(getattr(report, "drift", None))
        failed = [(item_id, record) for item_id, record in pending if item_id in failed_ids]
        errors = _errors_of(report)
        for item_id, _ in failed:
            error = errors.get(item_id)
            if isinstance(error, str) and error:
                last_errors[item_id] = error
            else:
                last_errors.setdefault(item_id, "listed in batchItemFailures, no error given")
        return failed, duplicates

    def _dead_letter(
        self,
        failed: list[tuple[str, StreamRecord]],
        attempts: int,
        last_errors: Mapping[str, str],
    ) -> None:
        """Dead-letter `failed` as retries_exhausted, each with its last real error."""
        by_error: dict[str, list[tuple[str, bytes]]] = {}
        for item_id, record in failed:
            last = last_errors.get(item_id, "listed in batchItemFailures, no error given")
            error = f"not processed after {attempts} deliveries; last error: {last}"
            by_error.setdefault(error, []).append((item_id, record.raw()))
        items = [item for group in by_error.values() for item in group]
        try:
            for error, group in by_error.items():
                self._sidecar.dead_letter(group, RETRIES_EXHAUSTED, error)
        except Exception as exc:
            raise RunAborted(
                f"cannot dead-letter {len(items)} records after {attempts} deliveries:"
                f" {type(exc).__name__}: {exc}"
            ) from exc

    def _report(self, message: str) -> None:
        if self._warn is not None:
            self._warn(message)


def _errors_of(report: object) -> Mapping[str, Any]:
    """The report's per-item errors (the sidecar's own reasons), empty when it has none."""
    errors = getattr(report, "errors", None)
    return errors if isinstance(errors, Mapping) else {}
