"""Narrow ports the sidecar core talks through: source of truth, stream sink, metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from sidecar_fn.drift_stats import BatchStats

SourceRecord = Mapping[str, Any]

CLEAN = "clean"
REPAIRED = "repaired"
MAIN_OUTCOMES = (CLEAN, REPAIRED)
"""Outcomes whose entries go to the main stream; every other one is a dead-letter reason."""

PROBE = ""
"""Outcome of a sink entry that only asks whether the item was already recorded."""


class SinkEntry(NamedTuple):
    """One item for the sink.

    `outcome` decides the target: MAIN_OUTCOMES go to the main stream with `data` as
    the envelope; any other non-empty outcome is a dead-letter reason with `data` as the
    raw record and `error` as the detail; PROBE writes nothing. `key` is the idempotency
    id (a record version's, see sidecar_fn.dedupe); empty means the item id.
    """

    item_id: str
    outcome: str
    data: bytes
    error: str
    key: str = ""


class PushResult(NamedTuple):
    """What the sink did with one entry."""

    written: bool
    outcome: str
    """The item's recorded outcome: this entry's when written, the first delivery's when the
    item was already recorded, PROBE for a probe of an item never recorded."""


class Retirement(NamedTuple):
    """The dead-letter entry a replayed item replaces, removed in the write that records
    the replay; a replay that is dead-lettered again carries `redriven_from` and
    `attempts` (replays so far, this one included) in its new entry."""

    entry_id: str
    redriven_from: str
    attempts: int


class SourceOfTruth(Protocol):
    """Reads pristine records by id."""

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, SourceRecord | None]:
        """Records by id: a record, None for an id the source does not know, and no key
        for an id it could not answer now. Raises SourceUnavailable when it answered none.
        `budget_s` bounds the whole call, retries included."""
        ...


class StreamSink(Protocol):
    """Writes a batch of entries idempotently per item id.

    A sink may also pipeline: `send(entries, *, source_id, received_at, stats=None)` sends
    the same write at once and answers an object whose `result()` gives what `push` would
    (RedisStreamSink.send). The sidecar uses it for the parts of a standard SQS batch and
    runs `push` in a worker thread for a sink without it."""

    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        """Write every new entry, skip items already recorded; results align with entries.

        In the same atomic write, `stats` (aligned with entries) adds each newly recorded
        item's contribution to its bucket, and `retire` (aligned with entries) removes the
        dead-letter entry an item replays once that item is recorded. Raises
        SinkUnavailable when the batch could not be written."""
        ...


class MetricsSink(Protocol):
    """Publishes per-batch counters."""

    def publish(self, counts: Mapping[str, int]) -> None:
        """Emit one set of counters for a finished batch."""
        ...

    def publish_by_field(self, metric: str, counts: Mapping[str, int]) -> None:
        """Emit `metric` once per field of `counts`, with the field as dimension `field`."""
        ...
