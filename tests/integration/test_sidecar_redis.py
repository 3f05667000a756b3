"""The Redis sink against a real server: one round trip, reconnects, concurrent deliveries."""

from __future__ import annotations

import threading

import pytest
import redis

from sidecar_fn.ports import PushResult, SinkEntry
from sidecar_fn.redis_sink import RedisStreamSink, seen_key_prefix
from tests.conftest import KeySpace

pytestmark = pytest.mark.integration


def make(url: str, keyspace: KeySpace) -> tuple[RedisStreamSink, redis.Redis]:
    client = redis.Redis.from_url(url)
    sink = RedisStreamSink(
        client, stream=keyspace.stream, dlq_stream=keyspace.dlq_stream, seen_ttl_s=600
    )
    return sink, client


def entries(prefix: str, count: int) -> list[SinkEntry]:
    return [SinkEntry(f"{prefix}{n}", "clean", b'{"n":%d}' % n, "") for n in range(count)]


def test_one_evalsha_per_batch(redis_url: str, keyspace: KeySpace) -> None:
    sink, client = make(redis_url, keyspace)
    sink.push(entries("warm", 1), source_id=keyspace.source_id, received_at="t")
    sent: list[bytes] = []
    connection = client.connection_pool.get_connection()
    original = connection.send_packed_command

    def spy(command: list[bytes], check_health: bool = True) -> None:
        sent.extend(command)
        original(command, check_health)

    connection.send_packed_command = spy  # type: ignore[method-assign]
    client.connection_pool.release(connection)
    results = sink.push(entries("x", 500), source_id=keyspace.source_id, received_at="t")
    assert len(sent) == 1
    assert sent[0].startswith(b"*") and b"EVALSHA" in sent[0][:40]
    assert all(r.written for r in results)
    assert client.xlen(keyspace.stream) == 501


def test_connection_killed_between_batches_is_replaced(
    redis_url: str, keyspace: KeySpace, redis_client: redis.Redis
) -> None:
    sink, client = make(redis_url, keyspace)
    sink.push(entries("a", 3), source_id=keyspace.source_id, received_at="t")
    connection = client.connection_pool.get_connection()
    connection.send_command("CLIENT", "ID")
    client_id = connection.read_response()
    client.connection_pool.release(connection)
    assert redis_client.client_kill_filter(_id=client_id) == 1
    results = sink.push(entries("b", 3), source_id=keyspace.source_id, received_at="t")
    assert results == [PushResult(True, "clean")] * 3
    assert redis_client.xlen(keyspace.stream) == 6


def test_same_batch_from_two_clients_at_once_is_written_once(
    redis_url: str, keyspace: KeySpace, redis_client: redis.Redis
) -> None:
    batch = entries("c", 400)
    outcomes: list[list[PushResult]] = []
    start = threading.Barrier(2)

    def deliver() -> None:
        sink, _ = make(redis_url, keyspace)
        start.wait()
        outcomes.append(sink.push(batch, source_id=keyspace.source_id, received_at="t"))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert redis_client.xlen(keyspace.stream) == 400
    written = [sum(r.written for r in results) for results in outcomes]
    assert sorted(written) == [0, 400]
    assert redis_client.get(seen_key_prefix(keyspace.source_id) + "c7") == b"clean"
    assert 0 < redis_client.ttl(seen_key_prefix(keyspace.source_id) + "c7") <= 600


def test_maxlen_trims_the_main_stream(redis_url: str, keyspace: KeySpace) -> None:
    client = redis.Redis.from_url(redis_url)
    sink = RedisStreamSink(
        client,
        stream=keyspace.stream,
        dlq_stream=keyspace.dlq_stream,
        seen_ttl_s=600,
        stream_maxlen=100,
    )
    for batch in range(6):
        sink.push(entries(f"t{batch}-", 200), source_id=keyspace.source_id, received_at="t")
    assert client.xlen(keyspace.stream) < 1200
