"""Redis adapter: one Lua script call writes a whole batch idempotently to the streams."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from sidecar_fn.envelope import DEAD_LETTER_FIELDS, ENVELOPE_FIELD
from sidecar_fn.errors import SinkUnavailable
from sidecar_fn.ports import PROBE, PushResult, SinkEntry

MAIN_OUTCOMES = ("clean", "repaired")

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
  n = n + 1
  if outcome == '' then
    out[n] = redis.call('GET', key) or ''
  elseif redis.call('SET', key, outcome, 'NX', 'EX', ttl) then
    if outcome == '{MAIN_OUTCOMES[0]}' or outcome == '{MAIN_OUTCOMES[1]}' then
      xadd(KEYS[1], main_maxlen, '{ENVELOPE_FIELD}', ARGV[i + 2])
    else
      xadd(KEYS[2], dlq_maxlen, {_DLQ_PAIRS})
    end
    out[n] = 1
  else
    out[n] = redis.call('GET', key) or ''
  end
end
return out
"""


def seen_key_prefix(source_id: str) -> str:
    """Prefix of the idempotency keys of one source: `aos:seen:<source_id>:`."""
    return f"aos:seen:{source_id}:"


class RedisStreamSink:
    """StreamSink on Redis: for each entry `SET NX` the seen key, then `XADD` only if new.

    The whole batch is one EVALSHA (a single round trip, atomic on the server), so two
    concurrent deliveries of the same item produce exactly one stream entry.
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
        self._keys = [stream, dlq_stream]
        self._script = client.register_script(PUSH_SCRIPT)
        self._header = [
            str(seen_ttl_s),
            "" if stream_maxlen is None else str(stream_maxlen),
            "" if dlq_maxlen is None else str(dlq_maxlen),
        ]

    def push(
        self, entries: Sequence[SinkEntry], *, source_id: str, received_at: str
    ) -> list[PushResult]:
        """Write the batch; see StreamSink.push."""
        if not entries:
            return []
        args: list[Any] = [*self._header, seen_key_prefix(source_id), source_id, received_at]
        for entry in entries:
            args.extend(entry)
        try:
            reply = self._script(keys=self._keys, args=args)
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
