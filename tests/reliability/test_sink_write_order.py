"""A batch write that fails part-way leaves no idempotency marker without its stream entry."""

from __future__ import annotations

import pytest
import redis

from sidecar_fn.errors import SinkUnavailable
from sidecar_fn.ports import PushResult, SinkEntry
from sidecar_fn.redis_sink import RedisStreamSink, seen_key_prefix
from tests.conftest import KeySpace

from .redis_server import PrivateRedis

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

BATCH = [
    SinkEntry("first", "clean", b'{"n":1}', ""),
    SinkEntry("letter", "malformed", b"{oops", "not valid JSON"),
    SinkEntry("last", "repaired", b'{"n":3}', ""),
]


def sink_for(client: redis.Redis, stream: str, dlq_stream: str) -> RedisStreamSink:
    return RedisStreamSink(client, stream=stream, dlq_stream=dlq_stream, seen_ttl_s=600)


def recorded_items(client: redis.Redis, stream: str, dlq_stream: str) -> list[str]:
    """Item ids of every entry in both streams (duplicates kept)."""
    items = []
    for _, fields in client.xrange(stream):
        envelope = fields[b"envelope"]
        items.append({b'{"n":1}': "first", b'{"n":3}': "last"}[envelope])
    if client.type(dlq_stream) == b"stream":
        items += [fields[b"item_id"].decode() for _, fields in client.xrange(dlq_stream)]
    return items


def markers(client: redis.Redis, source_id: str) -> set[str]:
    prefix = seen_key_prefix(source_id)
    return {item.item_id for item in BATCH if client.exists(prefix + item.item_id)}


def test_failed_dead_letter_append_leaves_no_marker_and_redelivery_completes(
    redis_client: redis.Redis, keyspace: KeySpace
) -> None:
    redis_client.set(keyspace.dlq_stream, "not a stream")
    sink = sink_for(redis_client, keyspace.stream, keyspace.dlq_stream)
    with pytest.raises(SinkUnavailable, match="WRONGTYPE"):
        sink.push(BATCH, source_id=keyspace.source_id, received_at="t")
    written = recorded_items(redis_client, keyspace.stream, keyspace.dlq_stream)
    assert markers(redis_client, keyspace.source_id) == set(written) == {"first"}

    redis_client.delete(keyspace.dlq_stream)
    results = sink.push(BATCH, source_id=keyspace.source_id, received_at="t")
    assert results == [
        PushResult(False, "clean"),
        PushResult(True, "malformed"),
        PushResult(True, "repaired"),
    ]
    written = recorded_items(redis_client, keyspace.stream, keyspace.dlq_stream)
    assert sorted(written) == ["first", "last", "letter"]
    assert markers(redis_client, keyspace.source_id) == set(written)


def test_out_of_memory_leaves_no_marker_and_redelivery_completes(
    private_redis: PrivateRedis,
) -> None:
    client = private_redis.client()
    client.config_set("maxmemory-policy", "noeviction")
    sink = sink_for(client, "oom:invoices", "oom:invoices:dlq")
    sink.push(BATCH[:1], source_id="oom", received_at="t")
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(used + 200_000))
    filler = 0
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        while True:
            client.set(f"filler:{filler}", b"x" * 10_000)
            filler += 1
    with pytest.raises(SinkUnavailable, match="maxmemory"):
        sink.push(BATCH, source_id="oom", received_at="t")
    written = recorded_items(client, "oom:invoices", "oom:invoices:dlq")
    assert markers(client, "oom") == set(written) == {"first"}

    client.config_set("maxmemory", "0")
    results = sink.push(BATCH, source_id="oom", received_at="t")
    assert [result.written for result in results] == [False, True, True]
    written = recorded_items(client, "oom:invoices", "oom:invoices:dlq")
    assert sorted(written) == ["first", "last", "letter"]
    assert markers(client, "oom") == set(written)
    client.close()
