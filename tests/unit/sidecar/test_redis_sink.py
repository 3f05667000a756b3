"""RedisStreamSink on an embedded fakeredis (which runs the Lua script)."""

from __future__ import annotations

import fakeredis
import pytest

from sidecar_fn.errors import SinkUnavailable
from sidecar_fn.ports import PROBE, PushResult, SinkEntry
from sidecar_fn.redis_sink import RedisStreamSink, seen_key_prefix


def make(client: fakeredis.FakeRedis, **kwargs: int) -> RedisStreamSink:
    return RedisStreamSink(client, stream="m", dlq_stream="d", seen_ttl_s=3600, **kwargs)


def push(sink: RedisStreamSink, entries: list[SinkEntry]) -> list[PushResult]:
    return sink.push(entries, source_id="src", received_at="2026-01-01T00:00:00.000Z")


def test_new_entries_go_to_their_stream_once(fake_redis: fakeredis.FakeRedis) -> None:
    sink = make(fake_redis)
    entries = [
        SinkEntry("a", "clean", b'{"meta":1}', ""),
        SinkEntry("b", "repaired", b'{"meta":2}', ""),
        SinkEntry("c", "malformed", b"\xff\x00 raw", "not JSON"),
    ]
    assert push(sink, entries) == [
        PushResult(True, "clean"),
        PushResult(True, "repaired"),
        PushResult(True, "malformed"),
    ]
    main = fake_redis.xrange("m")
    assert [fields for _, fields in main] == [
        {b"envelope": b'{"meta":1}'},
        {b"envelope": b'{"meta":2}'},
    ]
    [(_, dead)] = fake_redis.xrange("d")
    assert dead == {
        b"reason": b"malformed",
        b"raw": b"\xff\x00 raw",
        b"error": b"not JSON",
        b"source_id": b"src",
        b"item_id": b"c",
        b"received_at": b"2026-01-01T00:00:00.000Z",
    }
    assert fake_redis.get(seen_key_prefix("src") + "c") == b"malformed"
    assert 3500 < fake_redis.ttl(seen_key_prefix("src") + "c") <= 3600


def test_redelivery_writes_nothing_and_reports_first_outcome(
    fake_redis: fakeredis.FakeRedis,
) -> None:
    sink = make(fake_redis)
    push(sink, [SinkEntry("a", "clean", b"{}", ""), SinkEntry("b", "unrepairable", b"x", "e")])
    again = push(
        sink,
        [
            SinkEntry("a", "repaired", b"{}", ""),
            SinkEntry("b", "retries_exhausted", b"x", "e"),
            SinkEntry("a", "clean", b"{}", ""),
        ],
    )
    assert again == [
        PushResult(False, "clean"),
        PushResult(False, "unrepairable"),
        PushResult(False, "clean"),
    ]
    assert fake_redis.xlen("m") == 1
    assert fake_redis.xlen("d") == 1


def test_same_item_twice_in_one_batch_is_written_once(fake_redis: fakeredis.FakeRedis) -> None:
    sink = make(fake_redis)
    results = push(sink, [SinkEntry("a", "clean", b"1", ""), SinkEntry("a", "clean", b"2", "")])
    assert results == [PushResult(True, "clean"), PushResult(False, "clean")]
    assert fake_redis.xlen("m") == 1


def test_probe_reports_without_writing(fake_redis: fakeredis.FakeRedis) -> None:
    sink = make(fake_redis)
    push(sink, [SinkEntry("a", "repaired", b"{}", "")])
    results = push(sink, [SinkEntry("a", PROBE, b"", ""), SinkEntry("z", PROBE, b"", "")])
    assert results == [PushResult(False, "repaired"), PushResult(False, PROBE)]
    assert fake_redis.get(seen_key_prefix("src") + "z") is None
    assert fake_redis.xlen("m") == 1


def test_maxlen_trims_approximately(fake_redis: fakeredis.FakeRedis) -> None:
    sink = make(fake_redis, stream_maxlen=10)
    push(sink, [SinkEntry(f"i{n}", "clean", b"{}", "") for n in range(300)])
    assert fake_redis.xlen("m") < 300


def test_empty_batch_is_no_round_trip(fake_redis: fakeredis.FakeRedis) -> None:
    assert push(make(fake_redis), []) == []


def test_redis_down_raises_sink_unavailable() -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    sink = make(client)
    server.connected = False
    with pytest.raises(SinkUnavailable, match="Redis write failed"):
        push(sink, [SinkEntry("a", "clean", b"{}", "")])


def test_wrong_key_type_raises_sink_unavailable(fake_redis: fakeredis.FakeRedis) -> None:
    fake_redis.set("m", "not a stream")
    with pytest.raises(SinkUnavailable):
        push(make(fake_redis), [SinkEntry("a", "clean", b"{}", "")])


def test_script_forgotten_by_redis_is_loaded_again(fake_redis: fakeredis.FakeRedis) -> None:
    sink = make(fake_redis)
    push(sink, [SinkEntry("a", "clean", b"{}", "")])
    fake_redis.script_flush()
    assert push(sink, [SinkEntry("b", "clean", b"{}", "")]) == [PushResult(True, "clean")]
    assert fake_redis.xlen("m") == 2


class _ScriptedConnection:
    def __init__(self, reply: object) -> None:
        self.reply = reply

    def send_packed_command(self, command: list[bytes], check_health: bool = True) -> None:
        return None

    def read_response(self) -> object:
        return self.reply

    def disconnect(self) -> None:
        return None


class _ScriptedRoute:
    """A route whose server answers the batch call with a scripted reply."""

    attempts = 1

    def __init__(self, reply: object) -> None:
        self.connection = _ScriptedConnection(reply)

    def pool(self, slot_key: bytes) -> _ScriptedRoute:
        return self

    def get_connection(self) -> _ScriptedConnection:
        return self.connection

    def release(self, connection: object) -> None:
        return None

    def rerouted(self, error: object, attempt: int) -> None:
        return None


@pytest.mark.parametrize("reply", [[1], [1, 1, 1], [], b"OK", None])
def test_a_reply_not_aligned_with_the_batch_is_sink_unavailable(
    fake_redis: fakeredis.FakeRedis, reply: object
) -> None:
    sink = RedisStreamSink(
        fake_redis,
        stream="m",
        dlq_stream="d",
        seen_ttl_s=60,
        route=_ScriptedRoute(reply),  # type: ignore[arg-type]
    )
    entries = [SinkEntry("a", "clean", b"{}", ""), SinkEntry("b", "clean", b"{}", "")]
    with pytest.raises(SinkUnavailable, match="unexpected reply"):
        sink.push(entries, source_id="s", received_at="t")
