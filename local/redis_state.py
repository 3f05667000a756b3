"""The runner's Redis state: the checkpoint cursor and the streams' growth counters."""

from __future__ import annotations

from typing import Any

import redis

CHECKPOINT_PREFIX = "aos:checkpoint:"


class RedisStateError(Exception):
    """Redis could not be read or written, or holds a value the runner cannot use."""


def checkpoint_key(source_id: str) -> str:
    """The key holding the next stream cursor for `source_id`."""
    return f"{CHECKPOINT_PREFIX}{source_id}"


class Checkpoints:
    """The next stream cursor of one source, stored as a plain integer."""

    def __init__(self, client: redis.Redis, source_id: str) -> None:
        self._client = client
        self.key = checkpoint_key(source_id)

    def load(self) -> int | None:
        """The stored cursor, or None when the source has never been checkpointed."""
        try:
            value: Any = self._client.get(self.key)
        except redis.RedisError as exc:
            raise RedisStateError(f"cannot read checkpoint {self.key}: {exc}") from exc
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        if not text.isdigit():
            raise RedisStateError(f"checkpoint {self.key} holds {text!r}, not a cursor")
        return int(text)

    def save(self, cursor: int) -> None:
        """Store `cursor` as the next record to read."""
        try:
            self._client.set(self.key, str(cursor))
        except redis.RedisError as exc:
            raise RedisStateError(f"cannot write checkpoint {self.key}: {exc}") from exc


def entries_added(client: redis.Redis, stream: str) -> int:
    """Entries ever added to `stream` (unaffected by trimming); 0 when it does not exist."""
    try:
        if not client.exists(stream):
            return 0
        info: Any = client.xinfo_stream(stream)
    except redis.RedisError as exc:
        raise RedisStateError(f"cannot read stream {stream}: {exc}") from exc
    added = info.get("entries-added", info.get(b"entries-added"))
    return int(added) if added is not None else int(info["length"])
