"""A batch's hourly-bucket statistics, built from what the sidecar's passes found.

The pure contribution arithmetic lives in drift_stats; this module maps the entries of one
batch (written, dead-lettered by the caller, or replayed) onto it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from sidecar_fn.batch_report import MALFORMED
from sidecar_fn.drift import drifted_fields
from sidecar_fn.drift_kinds import drift_kinds_of
from sidecar_fn.drift_stats import (
    NOTHING,
    BatchStats,
    Contribution,
    ContributionCache,
    bucket_hour,
    contribution,
    replay_contribution,
    unexpected_names,
)
from sidecar_fn.ports import CLEAN, PROBE, REPAIRED, SinkEntry
from sidecar_fn.records import Item
from sidecar_fn.replays import Replay
from sidecar_fn.schema import Schema

Drifts = dict[int, tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]]
"""Entry index -> (record, drifted fields, their kinds of drift) of the batch's drifted
records."""

_CLEAN_CONTRIBUTION = contribution(CLEAN)
_MALFORMED_CONTRIBUTION = contribution(MALFORMED)


def raw_contribution(raw: bytes, outcome: str, schema: Schema) -> Contribution:
    """The contribution of a record dead-lettered by the caller (e.g. retries_exhausted),
    with its drift and unexpected fields read from its raw text when it is a JSON object."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return contribution(outcome)
    if type(record) is not dict:
        return contribution(outcome)
    drifted = drifted_fields(record, schema)
    return contribution(
        outcome,
        drifted=drifted,
        unexpected=unexpected_names(record, schema.known),
        kinds=drift_kinds_of(record, drifted, schema),
    )


def positions(stats: BatchStats, indices: Sequence[int]) -> BatchStats:
    """The statistics of the entries at `indices` only (same contribution table)."""
    part = BatchStats(stats.hour, stats.ttl_s, stats.contributions)
    part.positions = [stats.positions[index] for index in indices]
    return part


def batch_stats(
    entries: Sequence[SinkEntry],
    clean: Sequence[tuple[int, Item, dict[str, Any]]],
    unusual: Sequence[tuple[int, dict[str, Any]]],
    drifts: Drifts,
    received_at: str,
    *,
    known: frozenset[str] | None,
    contributions: ContributionCache,
    ttl_s: int,
) -> BatchStats:
    """Each entry's contribution to the batch's hourly bucket (see drift_stats).

    `unusual` are the clean records that carry fields the schema does not know (found
    by the classification pass, so the others are not looked at again)."""
    cached = contributions.get
    stats = BatchStats(bucket_hour(received_at), ttl_s)
    index = stats.index
    found = [index(_MALFORMED_CONTRIBUTION)] * len(entries)
    clean_index = index(_CLEAN_CONTRIBUTION)
    for position, _, _ in clean:
        found[position] = clean_index
    for position, record in unusual:
        found[position] = index(cached(CLEAN, (), (), unexpected_names(record, known)))
    for position, (record, drifted, kinds) in drifts.items():
        outcome = entries[position].outcome
        if outcome == PROBE:
            found[position] = 0
            continue
        repaired = drifted if outcome == REPAIRED else ()
        extra = unexpected_names(record, known)
        found[position] = index(cached(outcome, drifted, repaired, extra, kinds))
    stats.positions = found
    return stats


def replay_stats(
    entries: Sequence[SinkEntry],
    drifts: Drifts,
    replays: Mapping[str, Replay],
    ttl_s: int,
) -> BatchStats:
    """Each replay moves its record from its old reason to its new outcome."""
    first = replays[entries[0].item_id]
    stats = BatchStats(bucket_hour(first.received_at), ttl_s)
    for index, entry in enumerate(entries):
        if entry.outcome == PROBE:
            stats.add(NOTHING)
            continue
        repaired = drifts[index][1] if entry.outcome == REPAIRED else ()
        previous = replays[entry.item_id].previous_reason
        stats.add(replay_contribution(previous, entry.outcome, repaired=repaired))
    return stats
