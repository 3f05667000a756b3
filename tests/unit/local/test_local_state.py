"""Checkpoint store and stream growth counters on an in-memory Redis."""

from __future__ import annotations

import fakeredis
import pytest

from local.redis_state import (
    Checkpoints,
    RedisStateError,
    checkpoint_key,
    entries_added,
    last_entry_id,
    stream_identity,
)

ID = stream_identity(0, True)


def test_checkpoint_round_trips_as_a_plain_integer() -> None:
    client = fakeredis.FakeRedis()
    store = Checkpoints(client, "src-1", ID)
    assert store.load() is None
    store.save(1200)
    assert client.get("aos:checkpoint:src-1:seed0:chaos") == b"1200"
    assert store.load() == 1200
    assert store.key == checkpoint_key("src-1", ID)


def test_a_checkpoint_that_is_not_a_cursor_is_an_error() -> None:
    client = fakeredis.FakeRedis()
    client.set("aos:checkpoint:src:seed0:chaos", "-3")
    with pytest.raises(RedisStateError, match="not a cursor"):
        Checkpoints(client, "src", ID).load()


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
        Checkpoints(client, "src", ID).load()
    sleeps: list[float] = []
    with pytest.raises(RedisStateError, match="cannot write checkpoint"):
        Checkpoints(client, "src", ID, retries=2, sleep=sleeps.append).save(1)
    assert sleeps == [0.25, 0.5]
    with pytest.raises(RedisStateError, match="cannot read stream"):
        entries_added(client, "s")


def test_a_checkpoint_write_survives_a_short_redis_outage() -> None:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    server.connected = False

    def back_up(_seconds: float) -> None:
        server.connected = True

    Checkpoints(client, "src", ID, sleep=back_up).save(42)
    assert client.get("aos:checkpoint:src:seed0:chaos") == b"42"


def test_each_stream_has_its_own_checkpoint() -> None:
    client = fakeredis.FakeRedis()
    keys = {stream_identity(seed, chaos) for seed in (0, 1, 10) for chaos in (True, False)}
    assert len(keys) == 6
    Checkpoints(client, "src", stream_identity(0, True)).save(14_200)
    assert Checkpoints(client, "src", stream_identity(0, False)).load() is None
    assert Checkpoints(client, "src", stream_identity(1, True)).load() is None
    assert Checkpoints(client, "src", stream_identity(0, True)).load() == 14_200


def test_the_checkpoint_never_moves_back_without_rewind() -> None:
    client = fakeredis.FakeRedis()
    Checkpoints(client, "src", ID).save(14_200)
    replay = Checkpoints(client, "src", ID)
    assert replay.load() == 14_200
    replay.save(300)
    assert replay.stored == 14_200
    assert client.get(replay.key) == b"14200"
    replay.save(14_300)
    assert client.get(replay.key) == b"14300"


def test_rewind_stores_the_run_cursor_even_when_lower() -> None:
    client = fakeredis.FakeRedis()
    Checkpoints(client, "src", ID).save(14_200)
    rewinding = Checkpoints(client, "src", ID, rewind=True)
    rewinding.load()
    rewinding.save(300)
    assert client.get(rewinding.key) == b"300" and rewinding.stored == 300


def test_a_legacy_checkpoint_is_adopted_once_by_the_first_stream_that_saves() -> None:
    client = fakeredis.FakeRedis()
    client.set("aos:checkpoint:src", "5000")
    first = Checkpoints(client, "src", ID)
    assert first.load() == 5000 and first.adopted_legacy == 5000
    first.save(100)
    assert client.get(first.key) == b"5000"
    assert client.get("aos:checkpoint:src") is None
    other = Checkpoints(client, "src", stream_identity(0, False))
    assert other.load() is None and other.adopted_legacy is None


def test_a_stream_with_its_own_checkpoint_ignores_the_legacy_key() -> None:
    client = fakeredis.FakeRedis()
    client.set("aos:checkpoint:src", "9000")
    client.set("aos:checkpoint:src:seed0:chaos", "700")
    store = Checkpoints(client, "src", ID)
    assert store.load() == 700 and store.adopted_legacy is None
    store.save(800)
    assert client.get("aos:checkpoint:src") == b"9000"


def test_last_entry_id_marks_where_a_stream_stood() -> None:
    client = fakeredis.FakeRedis()
    assert last_entry_id(client, "s") == "0-0"
    entry = client.xadd("s", {"n": 1})
    assert last_entry_id(client, "s") == entry.decode()
