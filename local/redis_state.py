"""The runner's Redis state: the checkpoint cursor and the streams' growth counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

CHECKPOINT_PREFIX = "aos:checkpoint:"


class RedisStateError(Exception):
    """Redis could not be read or written, or holds a value the runner cannot use."""


def checkpoint_key(source_id: str) -> str:
    """The key holding the next stream cursor for `source_id`."""
    return f"{CHECKPOINT_PREFIX}{source_id}"


class Checkpoints:
    """The next stream cursor of one source, stored as a plain integer.

    A failed write is retried `retries` times with doubling pauses, so that a Redis
    restart mid-run does not stop the run.
    """

    def __init__(
        self,
        client: redis.Redis,
        source_id: str,
        *,
        retries: int = 4,
        backoff_seconds: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.key = checkpoint_key(source_id)
        self._retries = retries
        self._backoff = backoff_seconds
        self._sleep = sleep

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
        for attempt in range(self._retries + 1):
            try:
                self._client.set(self.key, str(cursor))
                return
            except redis.RedisError as exc:
                if attempt == self._retries:
                    raise RedisStateError(f"cannot write checkpoint {self.key}: {exc}") from exc
                self._sleep(self._backoff * 2**attempt)


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
