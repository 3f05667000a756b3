"""`aos redrive`: replay dead letters of one reason through the sidecar's own batch path.

Each dead letter is replayed under its own item id (`<original>:redrive:<entry id>`), so
the sidecar's idempotency covers the replay itself: two redrives running at once, or a
redrive started again after a crash, write each record once. The write that records a
replay also removes its dead-letter entry (see `IngestSidecar.replay`); a replay that
cannot be finished (the source of truth still down) goes back to the dead-letter stream
as `retries_exhausted` with its attempt count, in the write that removes the old entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from tqdm import tqdm

from sidecar_fn.drift_stats import bucket_hour
from sidecar_fn.envelope import REDRIVE_FIELDS
from sidecar_fn.ports import Retirement
from sidecar_fn.replays import Replay, replay_item_id
from sidecar_fn.sidecar import RETRIES_EXHAUSTED, IngestSidecar

PAGE = 1000
OUTCOMES = ("clean", "repaired", "malformed", "unrepairable")


@dataclass(frozen=True)
class RedriveOptions:
    """What to replay and how."""

    reason: str
    limit: int | None = None
    since: datetime | None = None
    dry_run: bool = False
    batch_size: int = 100
    progress: bool = True


@dataclass
class RedriveSummary:
    """What a redrive did; `reconciled` when every selected dead letter has one outcome and
    the streams moved by exactly that much."""

    reason: str
    source_id: str
    dry_run: bool
    dlq_before: int
    selected: int = 0
    skipped: int = 0
    clean: int = 0
    repaired: int = 0
    malformed: int = 0
    unrepairable: int = 0
    failed_again: int = 0
    already_replayed: int = 0
    main_added: int = 0
    dlq_after: int = 0
    by_hour: dict[str, int] = field(default_factory=dict)

    @property
    def dead_lettered_again(self) -> int:
        """Replays whose outcome is a dead letter again."""
        return self.malformed + self.unrepairable + self.failed_again

    @property
    def reconciled(self) -> bool:
        """Outcomes cover the selection; the main stream grew by the replays that reached it;
        the dead-letter stream lost the selection and gained the replays dead-lettered again."""
        if self.dry_run:
            return True
        finished = self.clean + self.repaired + self.dead_lettered_again + self.already_replayed
        fresh_main = self.clean + self.repaired
        dlq_expected = self.dlq_before - self.selected + self.dead_lettered_again
        return (
            finished == self.selected
            and self.main_added == fresh_main
            and self.dlq_after == dlq_expected
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {**asdict(self), "reconciled": self.reconciled}

    def to_text(self) -> str:
        """A short human-readable summary."""
        verb = "would replay" if self.dry_run else "replayed"
        lines = [f"Redrive ({self.reason}, source {self.source_id}): {verb} {self.selected:,}"]
        if self.dry_run:
            for hour, count in sorted(self.by_hour.items()):
                lines.append(
                    f"  received {hour[:4]}-{hour[4:6]}-{hour[6:8]} {hour[8:]}h  {count:>8,}"
                )
            lines.append(f"  dead-letter stream holds {self.dlq_before:,} entries")
            return "\n".join(lines)
        rows = [
            ("clean", self.clean),
            ("repaired", self.repaired),
            ("malformed", self.malformed),
            ("unrepairable", self.unrepairable),
            ("failed again", self.failed_again),
            ("already replayed", self.already_replayed),
            ("skipped (unreadable)", self.skipped),
        ]
        lines += [f"  {label:<22}{value:>10,}" for label, value in rows]
        lines.append(f"  {'main stream added':<22}{self.main_added:>10,}")
        lines.append(f"  {'dead letters':<22}{self.dlq_before:>10,}  -> {self.dlq_after:,}")
        if self.reconciled:
            verdict = (
                f"yes: {self.clean + self.repaired:,} to the main stream +"
                f" {self.dead_lettered_again:,} dead-lettered again +"
                f" {self.already_replayed:,} already replayed = {self.selected:,} selected"
            )
        else:
            verdict = "NO: the streams moved by other amounts (another writer at work?)"
        lines.append(f"  {'reconciled':<22}{verdict}")
        return "\n".join(lines)


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value is not None else ""


def replay_of(entry_id: str, fields: dict[bytes, bytes]) -> Replay | None:
    """The replay of one dead-letter entry (None when the entry lacks what a replay needs)."""
    raw = fields.get(b"raw")
    item_id = _text(fields.get(b"item_id"))
    received_at = _text(fields.get(b"received_at"))
    if raw is None or not item_id:
        return None
    try:
        bucket_hour(received_at)
    except ValueError:
        return None
    original = _text(fields.get(REDRIVE_FIELDS[0].encode())) or item_id
    try:
        attempts = int(_text(fields.get(REDRIVE_FIELDS[1].encode())) or 0) + 1
    except ValueError:
        attempts = 1
    return Replay(
        replay_item_id(original, entry_id),
        raw,
        _text(fields.get(b"reason")),
        received_at,
        Retirement(entry_id, original, attempts),
    )


class Redrive:
    """Selects dead letters and replays them through `sidecar`."""

    def __init__(self, client: Any, sidecar: IngestSidecar, dlq_stream: str, stream: str) -> None:
        self._client = client
        self._sidecar = sidecar
        self._dlq = dlq_stream
        self._stream = stream

    def select(self, options: RedriveOptions) -> tuple[list[Replay], int]:
        """The dead letters to replay (oldest first) and how many matching ones were unreadable."""
        start = "-" if options.since is None else f"{int(options.since.timestamp() * 1000)}-0"
        chosen: list[Replay] = []
        skipped = 0
        for entry_id, fields in self._entries(start):
            if _text(fields.get(b"reason")) != options.reason:
                continue
            if _text(fields.get(b"source_id")) != self._sidecar.source_id:
                continue
            replay = replay_of(entry_id, fields)
            if replay is None:
                skipped += 1
                continue
            chosen.append(replay)
            if options.limit is not None and len(chosen) >= options.limit:
                break
        return chosen, skipped

    def _entries(self, start: str) -> Iterator[tuple[str, dict[bytes, bytes]]]:
        while True:
            page = self._client.xrange(self._dlq, min=start, max="+", count=PAGE)
            for entry_id, fields in page:
                yield _text(entry_id), fields
            if len(page) < PAGE:
                return
            start = "(" + _text(page[-1][0])

    def run(self, options: RedriveOptions) -> RedriveSummary:
        """Replay the selection batch by batch (one statistics hour per batch)."""
        summary = RedriveSummary(
            reason=options.reason,
            source_id=self._sidecar.source_id,
            dry_run=options.dry_run,
            dlq_before=int(self._client.xlen(self._dlq)),
        )
        replays, summary.skipped = self.select(options)
        summary.selected = len(replays)
        for replay in replays:
            hour = bucket_hour(replay.received_at)
            summary.by_hour[hour] = summary.by_hour.get(hour, 0) + 1
        if options.dry_run:
            summary.dlq_after = summary.dlq_before
            return summary
        main_before = int(self._client.xlen(self._stream))
        bar = tqdm(
            total=len(replays),
            unit="record",
            desc="redrive",
            disable=None if options.progress else True,
        )
        try:
            for batch in _batches(replays, options.batch_size):
                self._replay(batch, summary)
                bar.update(len(batch))
        finally:
            bar.close()
            summary.main_added = int(self._client.xlen(self._stream)) - main_before
            summary.dlq_after = int(self._client.xlen(self._dlq))
        return summary

    def _replay(self, batch: Sequence[Replay], summary: RedriveSummary) -> None:
        report = self._sidecar.replay(batch)
        failures = set(report.failures)
        duplicates = set(report.duplicate_ids)
        failed: list[Replay] = []
        for replay in batch:
            outcome = report.outcomes.get(replay.item_id)
            if replay.item_id in failures:
                failed.append(replay)
            elif replay.item_id in duplicates:
                summary.already_replayed += 1
            elif outcome in OUTCOMES:
                setattr(summary, outcome, getattr(summary, outcome) + 1)
        by_error: dict[str, list[Replay]] = {}
        for replay in failed:
            last = report.errors.get(replay.item_id) or "not processed"
            error = f"redrive attempt {replay.retirement.attempts} failed; last error: {last}"
            by_error.setdefault(error, []).append(replay)
        for error, group in by_error.items():
            self._sidecar.dead_letter(
                [(r.item_id, r.raw) for r in group], RETRIES_EXHAUSTED, error, replays=group
            )
        summary.failed_again += len(failed)


def _batches(replays: Sequence[Replay], size: int) -> Iterator[list[Replay]]:
    """Consecutive runs of at most `size` replays that share a statistics hour."""
    batch: list[Replay] = []
    hour = ""
    for replay in replays:
        this = bucket_hour(replay.received_at)
        if batch and (this != hour or len(batch) >= size):
            yield batch
            batch = []
        hour = this
        batch.append(replay)
    if batch:
        yield batch
