"""Redis adapter: one Lua script call writes a whole batch idempotently to the streams."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol, cast

import redis
from redis.exceptions import NoScriptError

from sidecar_fn.envelope import DEAD_LETTER_FIELDS, ENVELOPE_FIELD
from sidecar_fn.errors import SinkUnavailable
from sidecar_fn.ports import MAIN_OUTCOMES, PROBE, PushResult, SinkEntry

_DLQ_PAIRS = ", ".join(
    f"'{name}', {value}"
    for name, value in zip(
        DEAD_LETTER_FIELDS,
        ("outcome", "ARGV[i + 2]", "ARGV[i + 3]", "source_id", "item", "received_at"),
        strict=True,
    )
)

PUSH_SCRIPT = f"""
local ttl, main_maxlen, dlq_maxlen = ARGV[1], ARGV[2], ARGV[3]
local prefix, source_id, received_at = ARGV[4], ARGV[5], ARGV[6]
local function xadd(stream, maxlen, ...)
  if maxlen == '' then
    return redis.call('XADD', stream, '*', ...)
  end
  return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', ...)
end
local out, n = {{}}, 0
for i = 7, #ARGV, 4 do
  local item, outcome = ARGV[i], ARGV[i + 1]
  local key = prefix .. item
  local seen = redis.call('GET', key)
  n = n + 1
  if seen or outcome == '' then
    out[n] = seen or ''
  else
    if outcome == '{MAIN_OUTCOMES[0]}' or outcome == '{MAIN_OUTCOMES[1]}' then
      xadd(KEYS[1], main_maxlen, '{ENVELOPE_FIELD}', ARGV[i + 2])
    else
      xadd(KEYS[2], dlq_maxlen, {_DLQ_PAIRS})
    end
    redis.call('SET', key, outcome, 'EX', ttl)
    out[n] = 1
  end
end
return out
"""


class _Connection(Protocol):
    """The part of a redis-py connection the sink uses."""

    def send_packed_command(self, command: list[bytes], check_health: bool = True) -> None: ...

    def read_response(self) -> Any: ...

    def disconnect(self) -> None: ...


def seen_key_prefix(source_id: str) -> str:
    """Prefix of the idempotency keys of one source: `aos:seen:<source_id>:`."""
    return f"aos:seen:{source_id}:"


class RedisStreamSink:
    """StreamSink on Redis: for each new entry `XADD` first, then `SET` its seen key.

    The whole batch is one EVALSHA (a single round trip, atomic on the server), so two
    concurrent deliveries of the same item produce exactly one stream entry. Redis does
    not roll a script back when a command in it fails (out of memory, a wrong-typed key):
    the entries before the failure stay written with their markers, the failing one has
    neither, and the batch is reported unwritten. Its redelivery finds the earlier items
    already recorded and writes the rest, so a marker never stands without its entry. The command
    is serialised here with one `bytes.join` and sent on a pooled connection: packing a
    few thousand arguments through the client's generic packer costs more than Redis
    takes to run the script.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        stream: str,
        dlq_stream: str,
        seen_ttl_s: int,
        stream_maxlen: int | None = None,
        dlq_maxlen: int | None = None,
    ) -> None:
        self._client = client
        self._sha = hashlib.sha1(PUSH_SCRIPT.encode()).hexdigest()
        self._keys = [stream.encode(), dlq_stream.encode()]
        self._header = [
            str(seen_ttl_s).encode(),
            b"" if stream_maxlen is None else str(stream_maxlen).encode(),
            b"" if dlq_maxlen is None else str(dlq_maxlen).encode(),
        ]
        self._outcome_parts: dict[str, bytes] = {}

    def push(
        self, entries: Sequence[SinkEntry], *, source_id: str, received_at: str
    ) -> list[PushResult]:
        """Write the batch; see StreamSink.push."""
        if not entries:
            return []
        try:
            reply = self._evalsha(self._pack(entries, source_id, received_at))
        except redis.RedisError as exc:
            raise SinkUnavailable(f"Redis write failed: {type(exc).__name__}: {exc}") from exc
        if not isinstance(reply, list) or len(reply) != len(entries):
            raise SinkUnavailable("Redis answered the batch write with an unexpected reply")
        results = []
        for entry, answer in zip(entries, reply, strict=True):
            if answer == 1:
                results.append(PushResult(True, entry.outcome))
            else:
                text = answer.decode() if isinstance(answer, bytes) else str(answer)
                results.append(PushResult(False, text if text else PROBE))
        return results

    def _outcome_part(self, outcome: str) -> bytes:
        part = self._outcome_parts.get(outcome)
        if part is None:
            encoded = outcome.encode()
            part = b"\r\n$%d\r\n%s\r\n" % (len(encoded), encoded)
            self._outcome_parts[outcome] = part
        return part

    def _pack(self, entries: Sequence[SinkEntry], source_id: str, received_at: str) -> bytes:
        """The RESP body after `EVALSHA <sha>`: numkeys, keys, header args, entry args."""
        head = [
            b"2",
            *self._keys,
            *self._header,
            seen_key_prefix(source_id).encode(),
            source_id.encode(),
            received_at.encode(),
        ]
        parts = [b"*%d\r\n" % (2 + len(head) + 4 * len(entries))]
        parts.append(b"$7\r\nEVALSHA\r\n$40\r\n%s\r\n" % self._sha.encode())
        for arg in head:
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        outcome_part = self._outcome_part
        append = parts.append
        for item_id, outcome, data, error in entries:
            item = item_id.encode()
            append(b"$%d\r\n" % len(item))
            append(item)
            append(outcome_part(outcome))
            append(b"$%d\r\n" % len(data))
            append(data)
            if error:
                detail = error.encode()
                append(b"\r\n$%d\r\n" % len(detail))
                append(detail)
                append(b"\r\n")
            else:
                append(b"\r\n$0\r\n\r\n")
        return b"".join(parts)

    def _evalsha(self, command: bytes) -> Any:
        """Send the packed EVALSHA; load the script once if Redis does not know it yet, and
        retry once on a dropped connection (safe: the script is idempotent)."""
        pool = self._client.connection_pool
        for attempt in range(3):
            pooled = pool.get_connection()
            connection = cast(_Connection, pooled)
            try:
                connection.send_packed_command([command])
                return connection.read_response()
            except NoScriptError:
                if attempt == 2:
                    raise
                self._client.script_load(PUSH_SCRIPT)
            except (redis.ConnectionError, redis.TimeoutError):
                connection.disconnect()
                if attempt >= 1:
                    raise
            finally:
                pool.release(pooled)
        raise redis.RedisError("batch write did not complete")
