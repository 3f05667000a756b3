"""Redis adapter: one Lua script call writes a whole batch idempotently to the streams."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol, cast

import redis
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    ReadOnlyError,
    TryAgainError,
)

from sidecar_fn.drift_stats import BatchStats
from sidecar_fn.envelope import DEAD_LETTER_FIELDS, ENVELOPE_FIELD, REDRIVE_FIELDS
from sidecar_fn.errors import SinkUnavailable
from sidecar_fn.keys import KeyNames, key_names, seen_key_prefix
from sidecar_fn.ports import MAIN_OUTCOMES, PROBE, PushResult, Retirement, SinkEntry

__all__ = [
    "PUSH_SCRIPT",
    "InFlightWrite",
    "RedisStreamSink",
    "ScriptRoute",
    "StandaloneRoute",
    "seen_key_prefix",
]

REDIRECTS = (MovedError, AskError, TryAgainError, ClusterDownError, ReadOnlyError)
"""Answers that say: ask again, possibly elsewhere, after learning the topology (a
READONLY comes from a primary demoted by a failover behind the same endpoint)."""

_DLQ_PAIRS = ", ".join(
    f"'{name}', {value}"
    for name, value in zip(
        DEAD_LETTER_FIELDS,
        ("outcome", "ARGV[i + 2]", "ARGV[i + 3]", "source_id", "item", "received_at"),
        strict=True,
    )
)

_REDRIVE_PAIRS = ", ".join(
    f"'{name}', gone[{index}]" for index, name in enumerate(REDRIVE_FIELDS, start=2)
)

PUSH_SCRIPT = f"""
local ttl, main_maxlen, dlq_maxlen = ARGV[1], ARGV[2], ARGV[3]
local source_id, received_at = ARGV[4], ARGV[5]
local stats_ttl, width, stats_index = ARGV[6], ARGV[7], ARGV[8]
local function xadd(stream, maxlen, ...)
  if maxlen == '' then
    return redis.call('XADD', stream, '*', ...)
  end
  return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', ...)
end
local pos, contributions, retire, skipped, totals = 10, {{}}, {{}}, {{}}, {{}}
for c = 1, tonumber(ARGV[9]) do
  local pairs_in, contribution = tonumber(ARGV[pos]), {{}}
  for j = 1, pairs_in do
    contribution[j] = {{ARGV[pos + 2 * j - 1], tonumber(ARGV[pos + 2 * j])}}
  end
  contributions[c] = contribution
  pos = pos + 1 + 2 * pairs_in
end
for t = 1, tonumber(ARGV[pos]) do
  totals[ARGV[pos + 2 * t - 1]] = tonumber(ARGV[pos + 2 * t])
end
pos = pos + 1 + 2 * tonumber(ARGV[pos])
for r = 1, tonumber(ARGV[pos]) do
  local at = pos + 4 * r - 3
  retire[tonumber(ARGV[at])] = {{ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]}}
end
pos = pos + 1 + 4 * tonumber(ARGV[pos])
local out, n = {{}}, 0
for i = pos, #ARGV, 4 do
  local item, outcome = ARGV[i], ARGV[i + 1]
  n = n + 1
  local key = KEYS[{KeyNames.FIXED_KEYS} + n]
  local gone = retire[n]
  local seen = redis.call('GET', key)
  if seen or outcome == '' then
    out[n] = seen or ''
  else
    if outcome == '{MAIN_OUTCOMES[0]}' or outcome == '{MAIN_OUTCOMES[1]}' then
      xadd(KEYS[1], main_maxlen, '{ENVELOPE_FIELD}', ARGV[i + 2])
    elseif gone then
      xadd(KEYS[2], dlq_maxlen, {_DLQ_PAIRS}, {_REDRIVE_PAIRS})
    else
      xadd(KEYS[2], dlq_maxlen, {_DLQ_PAIRS})
    end
    redis.call('SET', key, outcome, 'EX', ttl)
    out[n] = 1
  end
  if out[n] ~= 1 and stats_ttl ~= '' then
    local c
    if width == '1' then
      c = string.byte(stats_index, n)
    else
      c = string.byte(stats_index, 2 * n - 1) * 256 + string.byte(stats_index, 2 * n)
    end
    if c > 0 then
      skipped[c] = (skipped[c] or 0) + 1
    end
  end
  if gone and out[n] ~= '' then
    redis.call('XDEL', KEYS[2], gone[1])
  end
end
if stats_ttl ~= '' then
  local bucket = KEYS[#KEYS]
  for c, count in pairs(skipped) do
    for _, pair in ipairs(contributions[c]) do
      totals[pair[1]] = totals[pair[1]] - pair[2] * count
    end
  end
  local changed = false
  for name, value in pairs(totals) do
    if value ~= 0 then
      redis.call('HINCRBY', bucket, name, value)
      changed = true
    end
  end
  if changed then
    redis.call('EXPIRE', bucket, stats_ttl)
  end
end
return out
"""
"""The batch script. KEYS: the fixed keys of KeyNames, then one idempotency key per entry,
then, when the batch keeps statistics, its hourly statistics bucket; every key it touches
is declared (Redis Cluster routes and checks by them). ARGV: ttl, maxlens, source id,
received_at, statistics (ttl, index width, per-entry indices, contribution table, totals;
see `_stats_args`), retirements (`_retire_args`), then 4 per entry (item, outcome, data,
error). The statistics add the batch's totals minus the contributions of the entries it
did not newly record, so a batch of new items costs the script no per-item statistics
work. A recorded replay removes the dead-letter entry it replaces (XDEL).
It appends first and sets the marker after: Redis does not roll a script back when a
command fails (out of memory, a wrong-typed key), so a failed XADD leaves no marker."""


def _stats_args(stats: BatchStats | None) -> list[bytes]:
    """Statistics TTL, index width, per-entry indices, each distinct contribution as its
    pair count followed by field and increment pairs (slot 0, nothing, is implied), then
    the number of fields and each field's total if every entry is new."""
    if stats is None:
        return [b"", b"", b"", b"0", b"0"]
    width, indices = stats.encoded_positions()
    args = [str(stats.ttl_s).encode(), str(width).encode(), indices]
    table = stats.contributions[1:]
    args.append(str(len(table)).encode())
    for pairs in table:
        args.append(str(len(pairs)).encode())
        for name, delta in pairs:
            args += [name.encode(), str(delta).encode()]
    totals = stats.totals()
    args.append(str(len(totals)).encode())
    for name, total in totals.items():
        args += [name.encode(), str(total).encode()]
    return args


def _retire_args(retire: Sequence[Retirement | None] | None) -> list[bytes]:
    """The number of retirements, then per retirement: entry position (1-based),
    dead-letter entry id, original item id, attempts."""
    chosen = [(n, r) for n, r in enumerate(retire or (), start=1) if r is not None]
    args = [str(len(chosen)).encode()]
    for position, (entry_id, redriven_from, attempts) in chosen:
        args += [str(position).encode(), entry_id.encode(), redriven_from.encode()]
        args.append(str(attempts).encode())
    return args


class _Connection(Protocol):
    """The part of a redis-py connection the sink uses."""

    def send_packed_command(self, command: list[bytes], check_health: bool = True) -> None: ...

    def send_command(self, *args: Any, **kwargs: Any) -> None: ...

    def read_response(self) -> Any: ...

    def disconnect(self) -> None: ...


class ScriptRoute(Protocol):
    """Where a batch call goes: the pool of the server that owns its keys."""

    attempts: int
    """Calls tried before the batch is given up (a redirect or a dropped connection)."""

    def pool(self, slot_key: bytes) -> redis.ConnectionPool:
        """The connection pool of the server that owns `slot_key`."""
        ...

    def rerouted(self, error: redis.RedisError, attempt: int) -> None:
        """Learn from `error` (a redirect, a dropped connection) before try `attempt` + 1."""
        ...


class StandaloneRoute:
    """One Redis server (or a primary behind one endpoint): its own pool; a dropped
    connection is retried once, at once."""

    attempts = 2

    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool

    def pool(self, slot_key: bytes) -> redis.ConnectionPool:
        """The client's pool, whatever the key."""
        return self._pool

    def rerouted(self, error: redis.RedisError, attempt: int) -> None:
        """Nothing to learn: the next try reconnects."""


def _check_aligned(
    entries: Sequence[SinkEntry],
    stats: BatchStats | None,
    retire: Sequence[Retirement | None] | None,
) -> None:
    if stats is not None and len(stats) != len(entries):
        raise ValueError("stats must hold one contribution per entry")
    if retire is not None and len(retire) != len(entries):
        raise ValueError("retire must hold one slot per entry")


def _unavailable(exc: redis.RedisError) -> SinkUnavailable:
    return SinkUnavailable(f"Redis write failed: {type(exc).__name__}: {exc}")


def _results(entries: Sequence[SinkEntry], reply: Any) -> list[PushResult]:
    """The script's per-entry answers: 1 for written, else the recorded outcome."""
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


class RedisStreamSink:
    """StreamSink on Redis: for each new entry `XADD` first, then `SET` its seen key.

    The whole batch is one EVALSHA (a single round trip, atomic on the server), so two
    concurrent deliveries of the same item produce exactly one stream entry. Redis does
    not roll a script back when a command in it fails (out of memory, a wrong-typed key):
    the entries before the failure stay written with their markers, the failing one has
    neither, and the batch is reported unwritten. Its redelivery finds the earlier items
    already recorded and writes the rest, so a marker never stands without its entry.
    Every key the script touches is declared in KEYS (see sidecar_fn.keys), so in cluster
    mode the call goes to the one node owning their slot (`route`, see
    sidecar_fn.redis_cluster). The same call keeps the drift statistics (the statistics of
    a batch Redis aborts part-way stay short by the items written before the failure) and
    removes, with `XDEL`, the dead-letter entry each recorded replay replaces. The command
    is serialised here with one `bytes.join` and sent on a pooled connection: packing a
    few thousand arguments through the client's generic packer costs more than Redis
    takes to run the script.

    `wait_replicas` > 0 sends `WAIT` after the write: a batch that fewer replicas
    acknowledged in time is reported unwritten, so that a failover right after it cannot
    lose what was acknowledged (its redelivery finds the markers, or writes it again).
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
        route: ScriptRoute | None = None,
        keys: KeyNames | None = None,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 1000,
    ) -> None:
        self._client = client
        self._route = route if route is not None else StandaloneRoute(client)
        self._sha = hashlib.sha1(PUSH_SCRIPT.encode()).hexdigest()
        self._names = keys if keys is not None else key_names(stream, dlq_stream, cluster=False)
        self._fixed = self._names.fixed()
        self._header = [
            str(seen_ttl_s).encode(),
            b"" if stream_maxlen is None else str(stream_maxlen).encode(),
            b"" if dlq_maxlen is None else str(dlq_maxlen).encode(),
        ]
        self._wait = (wait_replicas, wait_timeout_ms)
        self._outcome_parts: dict[str, bytes] = {}

    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        """Write the batch; see StreamSink.push."""
        if not entries:
            return []
        _check_aligned(entries, stats, retire)
        try:
            command = self._pack(entries, source_id, received_at, stats, retire)
            reply = self._evalsha(command)
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        return _results(entries, reply)

    def send(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
    ) -> InFlightWrite:
        """Pack the write and send it now, from the calling thread; its reply is read by
        `result()` of the answer (pipelining: Redis runs the script while the caller goes
        on with the rest of the batch). Same outcome and errors as `push`."""
        _check_aligned(entries, stats, None)
        return InFlightWrite(self, entries, self._pack(entries, source_id, received_at, stats))

    def _outcome_part(self, outcome: str) -> bytes:
        part = self._outcome_parts.get(outcome)
        if part is None:
            encoded = outcome.encode()
            part = b"\r\n$%d\r\n%s\r\n" % (len(encoded), encoded)
            self._outcome_parts[outcome] = part
        return part

    def _pack(
        self,
        entries: Sequence[SinkEntry],
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> bytes:
        """The whole EVALSHA: numkeys, keys (fixed, one seen key per entry, the statistics
        bucket), header args, statistics, retirements, entry args."""
        head = [
            *self._header,
            source_id.encode(),
            received_at.encode(),
            *_stats_args(stats),
            *_retire_args(retire),
        ]
        bucket = [] if stats is None else [self._names.stats_key(source_id, stats.hour).encode()]
        numkeys = len(self._fixed) + len(entries) + len(bucket)
        parts = [b"*%d\r\n" % (3 + numkeys + len(head) + 4 * len(entries))]
        parts.append(b"$7\r\nEVALSHA\r\n$40\r\n%s\r\n" % self._sha.encode())
        count = b"%d" % numkeys
        append = parts.append
        for arg in (count, *self._fixed):
            append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        prefix = self._names.seen_prefix(source_id)
        for entry in entries:
            seen = prefix + (entry.key or entry.item_id).encode()
            append(b"$%d\r\n%s\r\n" % (len(seen), seen))
        for key in bucket:
            append(b"$%d\r\n%s\r\n" % (len(key), key))
        for arg in head:
            append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        outcome_part = self._outcome_part
        for item_id, outcome, data, error, _ in entries:
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
        """Send the packed EVALSHA to the server owning the batch's slot; load the script
        there if it does not know it (a new or newly promoted server), and retry what the
        route says to retry (safe: the script is idempotent)."""
        route = self._route
        slot_key = self._fixed[0]
        for attempt in range(1, route.attempts + 2):
            try:
                pool = route.pool(slot_key)
                pooled = pool.get_connection()
            except (redis.ConnectionError, redis.TimeoutError, *REDIRECTS) as exc:
                if attempt >= route.attempts:
                    raise
                route.rerouted(exc, attempt)
                continue
            connection = cast(_Connection, pooled)
            try:
                connection.send_packed_command([command])
                try:
                    reply = connection.read_response()
                except NoScriptError:
                    if attempt > route.attempts:
                        raise
                    connection.send_command("SCRIPT", "LOAD", PUSH_SCRIPT)
                    connection.read_response()
                    continue
                self._await_replicas(connection)
                return reply
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                connection.disconnect()
                if attempt >= route.attempts:
                    raise
                route.rerouted(exc, attempt)
            except REDIRECTS as exc:
                if attempt >= route.attempts:
                    raise
                route.rerouted(exc, attempt)
            finally:
                pool.release(pooled)
        raise redis.RedisError("batch write did not complete")

    def _await_replicas(self, connection: _Connection) -> None:
        replicas, timeout_ms = self._wait
        if replicas <= 0:
            return
        connection.send_command("WAIT", replicas, timeout_ms)
        acknowledged = connection.read_response()
        if not isinstance(acknowledged, int) or acknowledged < replicas:
            raise redis.RedisError(
                f"written, but {acknowledged} of {replicas} replicas acknowledged it"
                f" within {timeout_ms} ms"
            )


class InFlightWrite:
    """A batch script call already sent on a pooled connection, its reply not yet read
    (see RedisStreamSink.send). A NOSCRIPT answer loads the script on the same connection
    and sends the call again; anything else that goes wrong before the reply (no
    connection, a dropped one, a redirect) is left to the synchronous path of `push`, which
    retries. The script is idempotent, so a call that did run is only answered again."""

    def __init__(self, sink: RedisStreamSink, entries: Sequence[SinkEntry], command: bytes) -> None:
        self._sink = sink
        self._entries = entries
        self._command = command
        self._pool: redis.ConnectionPool | None = None
        self._pooled: Any = None
        self._outcome: list[PushResult] | SinkUnavailable | None = None
        if not entries:
            return
        try:
            pool = sink._route.pool(sink._fixed[0])
            pooled = pool.get_connection()
        except (redis.ConnectionError, redis.TimeoutError, *REDIRECTS):
            return
        try:
            cast(_Connection, pooled).send_packed_command([command])
        except (redis.ConnectionError, redis.TimeoutError):
            cast(_Connection, pooled).disconnect()
            pool.release(pooled)
            return
        self._pool, self._pooled = pool, pooled

    def result(self) -> list[PushResult]:
        """The per-entry results, as `push` gives them; raises SinkUnavailable. Asked again,
        it answers the same (the call is not sent twice)."""
        if self._outcome is None:
            self._outcome = self._settle()
        if isinstance(self._outcome, SinkUnavailable):
            raise self._outcome
        return self._outcome

    def _settle(self) -> list[PushResult] | SinkUnavailable:
        if not self._entries:
            return []
        try:
            return _results(self._entries, self._reply())
        except redis.RedisError as exc:
            unavailable = _unavailable(exc)
            unavailable.__cause__ = exc
            return unavailable
        except SinkUnavailable as exc:
            return exc

    def _reply(self) -> Any:
        pooled, pool = self._pooled, self._pool
        self._pooled = None
        if pooled is None or pool is None:
            return self._sink._evalsha(self._command)
        connection = cast(_Connection, pooled)
        try:
            try:
                reply = connection.read_response()
            except NoScriptError:
                # A server that does not know the script yet (new, restarted, promoted):
                # load it on this connection and send the call again.
                connection.send_command("SCRIPT", "LOAD", PUSH_SCRIPT)
                connection.read_response()
                connection.send_packed_command([self._command])
                reply = connection.read_response()
            self._sink._await_replicas(connection)
            return reply
        except REDIRECTS:
            pass
        except (redis.ConnectionError, redis.TimeoutError):
            connection.disconnect()
        finally:
            pool.release(pooled)
        return self._sink._evalsha(self._command)
