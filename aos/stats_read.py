"""Reading the hourly statistics buckets of one source from Redis (one pipelined round trip)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sidecar_fn.keys import KeyNames


def read_buckets(
    client: Any, names: KeyNames, source_id: str, hours: Sequence[str]
) -> dict[str, dict[str, int]]:
    """The statistics hash of each hour that has one, as field -> count."""
    pipe = client.pipeline(transaction=False)
    for hour in hours:
        pipe.hgetall(names.stats_key(source_id, hour))
    found: dict[str, dict[str, int]] = {}
    for hour, fields in zip(hours, pipe.execute(), strict=True):
        if fields:
            found[hour] = {_text(k): int(v) for k, v in fields.items()}
    return found


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
