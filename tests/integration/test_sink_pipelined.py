"""Pipelined script calls on a real Redis: sent now, answered later, same outcome as `push`.

A standard SQS batch is written in parts (`AOS_WRITE_PART_RECORDS`): each part's script
call is sent as soon as it is wrapped and its reply read at the end of the batch. Whatever
happens between the send and the reply (the script flushed, the connection killed, Redis
gone) ends as `push` would: written once, or handed back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from local.events import sqs_record
from sidecar_fn.errors import SinkUnavailable
from sidecar_fn.ports import PushResult, SinkEntry
from sidecar_fn.redis_sink import RedisStreamSink, seen_key_prefix
from sidecar_fn.settings import Settings
from sidecar_fn.wiring import build_sidecar
from tests.conftest import KeySpace
from tests.reliability.redis_server import PrivateRedis
from tests.unit.sidecar.fakes import CapturedLogger, FakeSource, RecordingMetrics, pristine

pytestmark = pytest.mark.integration

ENTRIES = [
    SinkEntry("a", "clean", b'{"n":1}', ""),
    SinkEntry("b", "malformed", b"{oops", "not valid JSON"),
    SinkEntry("c", "repaired", b'{"n":3}', ""),
]
WRITTEN = [PushResult(True, "clean"), PushResult(True, "malformed"), PushResult(True, "repaired")]


def sink_on(client: redis.Redis, keys: KeySpace) -> RedisStreamSink:
    return RedisStreamSink(client, stream=keys.stream, dlq_stream=keys.dlq_stream, seen_ttl_s=600)


def lengths(client: redis.Redis, keys: KeySpace) -> tuple[int, int]:
    return int(client.xlen(keys.stream)), int(client.xlen(keys.dlq_stream))


def evalsha_calls(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def test_a_sent_call_is_answered_like_a_push(redis_client: redis.Redis, keyspace: KeySpace) -> None:
    sink = sink_on(redis_client, keyspace)
    sent = sink.send(ENTRIES, source_id=keyspace.source_id, received_at="t")
    assert sent.result() == WRITTEN
    assert lengths(redis_client, keyspace) == (2, 1)
    again = sink.send(ENTRIES, source_id=keyspace.source_id, received_at="t").result()
    assert again == [PushResult(False, e.outcome) for e in ENTRIES]
    assert sink.push(ENTRIES, source_id=keyspace.source_id, received_at="t") == again
    assert lengths(redis_client, keyspace) == (2, 1)


def test_two_calls_in_flight_at_once_each_get_their_own_reply(
    redis_client: redis.Redis, keyspace: KeySpace
) -> None:
    sink = sink_on(redis_client, keyspace)
    first = sink.send(ENTRIES[:2], source_id=keyspace.source_id, received_at="t")
    second = sink.send(ENTRIES[1:], source_id=keyspace.source_id, received_at="t")
    assert first.result() == WRITTEN[:2]
    assert second.result() == [PushResult(False, "malformed"), PushResult(True, "repaired")]
    assert lengths(redis_client, keyspace) == (2, 1)


def test_a_script_flushed_before_the_send_is_loaded_again(
    redis_client: redis.Redis, keyspace: KeySpace
) -> None:
    sink = sink_on(redis_client, keyspace)
    redis_client.script_flush()
    before = evalsha_calls(redis_client)
    assert sink.send(ENTRIES, source_id=keyspace.source_id, received_at="t").result() == WRITTEN
    assert lengths(redis_client, keyspace) == (2, 1)
    # refused, then loaded and sent again on the same connection
    assert evalsha_calls(redis_client) - before == 2


def test_a_connection_killed_before_the_script_ran_is_retried_and_writes_once(
    tmp_path: Path, keyspace: KeySpace
) -> None:
    """Writes paused, the call sent and queued, its connection killed: the reply never
    comes, the call is sent again on a new connection and writes each entry once."""
    server = PrivateRedis(tmp_path / "redis")
    server.directory.mkdir()
    server.start()
    try:
        admin = server.client()
        name = f"pipelined-{keyspace.source_id}"
        client = redis.Redis.from_url(server.url, client_name=name)
        sink = sink_on(client, keyspace)
        assert sink.push(ENTRIES[:1], source_id=keyspace.source_id, received_at="t")
        admin.execute_command("CLIENT", "PAUSE", "2000", "WRITE")
        sent = sink.send(ENTRIES, source_id=keyspace.source_id, received_at="t")
        victim = next(c for c in admin.client_list() if c["name"] == name)
        assert victim["cmd"] == "evalsha", "the call should wait behind the pause"
        admin.client_kill_filter(_id=victim["id"])
        admin.execute_command("CLIENT", "UNPAUSE")
        assert sent.result() == [PushResult(False, "clean"), *WRITTEN[1:]]
        assert lengths(admin, keyspace) == (2, 1)
        prefix = seen_key_prefix(keyspace.source_id)
        assert all(admin.exists(prefix + e.item_id) for e in ENTRIES)
        client.close()
        admin.close()
    finally:
        server.kill()


def test_redis_gone_after_the_send_fails_the_call_not_the_caller(
    redis_url: str, keyspace: KeySpace
) -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    sink = sink_on(client, keyspace)
    sent = sink.send(ENTRIES, source_id=keyspace.source_id, received_at="t")
    with pytest.raises(SinkUnavailable, match="Redis write failed"):
        sent.result()


def clean(n: int) -> str:
    return orjson.dumps(pristine(f"INV-{n}")).decode()


def drifted(n: int) -> str:
    record = pristine(f"INV-{n}")
    del record["vendor_id"]
    return orjson.dumps(record).decode()


@pytest.mark.parametrize("part", [0, 3, 100])
def test_a_standard_sqs_batch_written_in_parts_lands_each_record_once(
    part: int, redis_url: str, redis_client: redis.Redis, keyspace: KeySpace
) -> None:
    """20 records (clean, malformed, drifted): parts of `part` records are sent while the
    rest is wrapped and the source of truth asked; every record ends in one place, once,
    and a redelivery writes nothing."""
    settings = Settings.from_env(
        {
            "REDIS_URL": redis_url,
            "AOS_WRITE_PART_RECORDS": str(part),
            **keyspace.env(),
        }
    )
    assert settings.write_part_records == part
    sidecar = build_sidecar(
        settings, source=FakeSource(), metrics=RecordingMetrics(), logger=CapturedLogger().logger
    )
    bodies = [
        "{oops" if n % 7 == 6 else drifted(n) if n % 5 == 4 else clean(n) for n in range(1, 21)
    ]
    event = {"Records": [sqs_record(f"m{n}", b) for n, b in enumerate(bodies)]}
    before = evalsha_calls(redis_client)
    report = sidecar.handle_batch(event)
    calls = evalsha_calls(redis_client) - before
    assert report.failures == []
    assert {k: v for k, v in report.counts.items() if v} == {
        "clean": 13,
        "repaired": 4,
        "malformed": 3,
    }
    assert lengths(redis_client, keyspace) == (17, 3)
    # 0: one call while the source is asked, one after; 3: seven parts, then the repaired
    # ones; 100: the batch is smaller than one part.
    assert calls == {0: 2, 3: 8, 100: 2}[part]
    again = sidecar.handle_batch(event)
    assert again.duplicates == 20 and again.failures == []
    assert lengths(redis_client, keyspace) == (17, 3)
