"""Replays of dead letters: the derived item id and what a replay carries into the core."""

from __future__ import annotations

from typing import NamedTuple

from sidecar_fn.ports import Retirement

REDRIVE_MARK = ":redrive:"


class Replay(NamedTuple):
    """One dead letter delivered again.

    `item_id` is the replay's own id (see `replay_item_id`), so idempotency applies to the
    replay itself; `retirement` names the dead-letter entry the replay removes once it is
    recorded; `previous_reason` and `received_at` are the entry's, so that the statistics
    move the record from its old outcome to the new one in its original hourly bucket.
    """

    item_id: str
    raw: bytes
    previous_reason: str
    received_at: str
    retirement: Retirement


def replay_item_id(original_item_id: str, entry_id: str) -> str:
    """`<original item id>:redrive:<dead-letter entry id>`: one id per dead-letter entry,
    the same for every attempt to replay that entry."""
    return f"{original_item_id}{REDRIVE_MARK}{entry_id}"
