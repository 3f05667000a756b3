"""The runner's Redis state: the checkpoint cursor and the streams' growth counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

CHECKPOINT_PREFIX = "aos:checkpoint:"

# KEYS[1] the checkpoint, KEYS[2] the legacy key (deleted once the checkpoint is written).
# ARGV[1] the cursor, ARGV[2] '1' to allow moving back, ARGV[3] a floor ('' for none).
_ADVANCE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '')
local cursor = tonumber(ARGV[1])
if ARGV[3] ~= '' and tonumber(ARGV[3]) > cursor and ARGV[2] ~= '1' then
  cursor = tonumber(ARGV[3])
end
if ARGV[2] == '1' or current == nil or current < cursor then
  redis.call('SET', KEYS[1], string.format('%d', cursor))
  current = cursor
end
if KEYS[2] then
  redis.call('DEL', KEYS[2])
end
return string.format('%d', current)
"""


class RedisStateError(Exception):
    """Redis could not be read or written, or holds a value the runner cannot use."""


def stream_identity(seed: int, chaos: bool) -> str:
    """What identifies one farm stream among others: its seed and its chaos flag."""
    return f"seed{seed}:{'chaos' if chaos else 'no-chaos'}"


def checkpoint_key(source_id: str, identity: str) -> str:
    """The key holding the next cursor of the stream `identity` for `source_id`."""
    return f"{CHECKPOINT_PREFIX}{source_id}:{identity}"


def legacy_checkpoint_key(source_id: str) -> str:
    """The key earlier versions used for every stream of `source_id` alike."""
    return f"{CHECKPOINT_PREFIX}{source_id}"


def _cursor(key: str, value: Any) -> int | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    if not text.isdigit():
        raise RedisStateError(f"checkpoint {key} holds {text!r}, not a cursor")
    return int(text)


class Checkpoints:
    """The next cursor of one stream (source id, seed, chaos), stored as a plain integer.

    The stored cursor only moves forward: a run that starts before it (`--from-cursor`)
    leaves it where it is, unless `rewind` says to store this run's cursor even when it
    is lower. When the stream has no checkpoint yet but the legacy key of the source does
    (one key shared by every stream, from before checkpoints were kept per stream), its
    cursor is adopted once: the first save writes the new key at no less than it and
    deletes the legacy key, so no other stream adopts it again.

    A failed write is retried `retries` times with doubling pauses, so that a Redis
    restart mid-run does not stop the run.
    """

    def __init__(
        self,
        client: redis.Redis,
        source_id: str,
        identity: str,
        *,
        rewind: bool = False,
        retries: int = 4,
        backoff_seconds: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.key = checkpoint_key(source_id, identity)
        self.legacy_key = legacy_checkpoint_key(source_id)
        self.rewind = rewind
        self.adopted_legacy: int | None = None
        self.stored: int | None = None
        self._retries = retries
        self._backoff = backoff_seconds
        self._sleep = sleep

    def load(self) -> int | None:
        """The stored cursor (or the legacy key's, see the class), or None if there is none."""
        try:
            value = _cursor(self.key, self._client.get(self.key))
            if value is None:
                self.adopted_legacy = _cursor(self.legacy_key, self._client.get(self.legacy_key))
                value = self.adopted_legacy
        except redis.RedisError as exc:
            raise RedisStateError(f"cannot read checkpoint {self.key}: {exc}") from exc
        self.stored = value
        return value

    def save(self, cursor: int) -> None:
        """Store `cursor` as the next record to read unless the checkpoint is already past
        it (and not `rewind`); `stored` then holds the checkpoint's value."""
        keys: list[str] = [self.key]
        floor = ""
        if self.adopted_legacy is not None:
            keys.append(self.legacy_key)
            floor = str(self.adopted_legacy)
        for attempt in range(self._retries + 1):
            try:
                stored: Any = self._client.eval(
                    _ADVANCE, len(keys), *keys, str(cursor), "1" if self.rewind else "0", floor
                )
                self.adopted_legacy = None
                self.stored = int(stored)
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


def last_entry_id(client: redis.Redis, stream: str) -> str:
    """The id of the newest entry ever added to `stream` (`0-0` when it does not exist)."""
    try:
        if not client.exists(stream):
            return "0-0"
        info: Any = client.xinfo_stream(stream)
    except redis.RedisError as exc:
        raise RedisStateError(f"cannot read stream {stream}: {exc}") from exc
    last = info.get("last-generated-id", info.get(b"last-generated-id"))
    return last.decode() if isinstance(last, bytes) else str(last or "0-0")
