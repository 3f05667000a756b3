"""Trust but verify: which local repairs are checked against the source of truth, and how.

Sampling is by a CRC-32 of the item id, so a redelivered item is verified exactly when it
was the first time, and a share of 1 verifies every local repair.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

_CRC_RANGE = 2**32


class Disagreement(NamedTuple):
    """A locally repaired field whose value the source of truth does not share."""

    field: str
    local: Any
    source: Any


def selected(item_id: str, share: float) -> bool:
    """True when the item's local repairs are to be verified at `share` (0..1)."""
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    return zlib.crc32(item_id.encode("utf-8", "surrogatepass")) < share * _CRC_RANGE


def same_value(local: Any, source: Any) -> bool:
    """JSON equality: 16 and 16.0 agree, True and 1 do not."""
    return (type(local) is bool) == (type(source) is bool) and local == source


def disagreements(
    record: Mapping[str, Any], fields: Iterable[str], source: Mapping[str, Any]
) -> list[Disagreement]:
    """The `fields` of `record` whose value differs from the source record's."""
    return [
        Disagreement(name, record.get(name), source.get(name))
        for name in fields
        if not same_value(record.get(name), source.get(name))
    ]
