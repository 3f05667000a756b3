"""Reading the hourly statistics buckets of one source from Redis (one pipelined round trip)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def bucket_key(source_id: str, hour: str) -> str:
    """`aos:stats:<source_id>:<YYYYMMDDHH>`."""
    return f"aos:stats:{source_id}:{hour}"


def read_buckets(client: Any, source_id: str, hours: Sequence[str]) -> dict[str, dict[str, int]]:
    """The statistics hash of each hour that has one, as field -> count."""
    pipe = client.pipeline(transaction=False)
    for hour in hours:
        pipe.hgetall(bucket_key(source_id, hour))
    found: dict[str, dict[str, int]] = {}
    for hour, fields in zip(hours, pipe.execute(), strict=True):
        if fields:
            found[hour] = {_text(k): int(v) for k, v in fields.items()}
    return found


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
