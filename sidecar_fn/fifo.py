"""SQS FIFO order: once a record of a message group is handed back, so is the rest of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from sidecar_fn.ports import PROBE, SinkEntry


def message_groups(event: Mapping[str, Any]) -> list[str | None] | None:
    """Each record's `attributes.MessageGroupId`, in delivery order; None when no record of
    the event carries one (a standard queue or a Kinesis stream: no order to keep).

    Runs once per record of every batch: a plain dict (what Lambda hands over) is tested
    with `type(...) is dict` first, because `isinstance(..., Mapping)` goes through the ABC
    machinery and costs several times as much."""
    records = event.get("Records")
    if not isinstance(records, list):
        return None
    groups: list[str | None] = []
    for record in records:
        attributes = record.get("attributes") if _is_mapping(record) else None
        group = attributes.get("MessageGroupId") if _is_mapping(attributes) else None
        groups.append(group if isinstance(group, str) and group else None)
    return groups if any(group is not None for group in groups) else None


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """`isinstance(value, Mapping)`, with a plain dict answered without the ABC check."""
    return type(value) is dict or isinstance(value, Mapping)


def hold_back_after_failure(
    entries: list[SinkEntry], groups: Sequence[str | None]
) -> dict[int, str]:
    """Turn into PROBE every entry that follows a PROBE entry of its message group.

    A PROBE entry is a record not finished in this delivery: it is handed back unless an
    earlier delivery recorded it. Writing a later record of its group now would put the two
    out of order, so the later ones are only probed too (they are handed back, or counted
    as duplicates if an earlier delivery wrote them). Records of other groups, and records
    without a group, go on. Returns the held-back indexes, each with its reason.
    """
    if len(entries) != len(groups):
        raise ValueError(f"{len(entries)} entries but {len(groups)} message groups")
    broken: dict[str, str] = {}
    held: dict[int, str] = {}
    for index, (entry, group) in enumerate(zip(entries, groups, strict=True)):
        if group is None:
            continue
        if group in broken:
            if entry.outcome != PROBE:
                entries[index] = entry._replace(outcome=PROBE, data=b"", error="")
            held[index] = (
                f"held back to keep FIFO order: record {broken[group]} of message group"
                f" {group!r} was handed back"
            )
        elif entry.outcome == PROBE:
            broken[group] = entry.item_id
    return held
