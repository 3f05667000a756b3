"""Checkpoint store and stream growth counters on an in-memory Redis."""

from __future__ import annotations

import fakeredis
import pytest

from local.redis_state import Checkpoints, RedisStateError, checkpoint_key, entries_added


def test_checkpoint_round_trips_as_a_plain_integer() -> None:
    client = fakeredis.FakeRedis()
    store = Checkpoints(client, "src-1")
    assert store.load() is None
    store.save(1200)
    assert client.get("aos:checkpoint:src-1") == b"1200"
    assert store.load() == 1200
    assert store.key == checkpoint_key("src-1")


def test_a_checkpoint_that_is_not_a_cursor_is_an_error() -> None:
    client = fakeredis.FakeRedis()
    client.set("aos:checkpoint:src", "-3")
    with pytest.raises(RedisStateError, match="not a cursor"):
        Checkpoints(client, "src").load()


def test_entries_added_counts_every_entry_even_after_trimming() -> None:
    client = fakeredis.FakeRedis()
    assert entries_added(client, "s") == 0
    for n in range(5):
        client.xadd("s", {"n": n})
    client.xtrim("s", maxlen=2)
    assert entries_added(client, "s") == 5


def test_redis_errors_become_one_project_error() -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    server.connected = False
    with pytest.raises(RedisStateError, match="cannot read checkpoint"):
        Checkpoints(client, "src").load()
    sleeps: list[float] = []
    with pytest.raises(RedisStateError, match="cannot write checkpoint"):
        Checkpoints(client, "src", retries=2, sleep=sleeps.append).save(1)
    assert sleeps == [0.25, 0.5]
    with pytest.raises(RedisStateError, match="cannot read stream"):
        entries_added(client, "s")


def test_a_checkpoint_write_survives_a_short_redis_outage() -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    server.connected = False

    def back_up(_seconds: float) -> None:
        server.connected = True

    Checkpoints(client, "src", sleep=back_up).save(42)
    assert client.get("aos:checkpoint:src") == b"42"
