"""Drift statistics written by the batch script on a real Redis, against the farm over HTTP."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import redis

from local.farm_server import FarmServer
from sidecar_fn.drift_stats import BatchStats, bucket_hour, contribution
from sidecar_fn.ports import Retirement, SinkEntry
from sidecar_fn.redis_sink import RedisStreamSink
from sidecar_fn.replays import Replay, replay_item_id
from tests.conftest import KeySpace
from tests.integration.test_sidecar_farm import (
    Context,
    closed_port_url,
    make_sidecar,
    stream_event,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("quiet_metrics")]


def first_replay(original: str, entry_id: bytes, fields: dict[bytes, bytes]) -> Replay:
    """The first replay of a retries_exhausted dead letter first delivered as `original`."""
    return Replay(
        replay_item_id(original, entry_id.decode()),
        fields[b"raw"],
        "retries_exhausted",
        fields[b"received_at"].decode(),
        Retirement(entry_id.decode(), original, 1),
    )


def bucket(client: redis.Redis, keyspace: KeySpace) -> tuple[str, dict[str, int]]:
    [key] = client.keys(f"aos:stats:{keyspace.source_id}:*")
    fields = client.hgetall(key)
    return key.decode(), {k.decode(): int(v) for k, v in fields.items()}


def from_streams(client: redis.Redis, keyspace: KeySpace) -> Counter[str]:
    """Counts recomputed from the entries themselves."""
    counts: Counter[str] = Counter()
    for _, fields in client.xrange(keyspace.stream):
        meta = json.loads(fields[b"envelope"])["meta"]
        counts["records"] += 1
        counts["repaired" if meta["is_repaired"] else "clean"] += 1
        for name in meta["drifted_fields"]:
            counts[f"drift:{name}"] += 1
        for name in meta["repaired_fields"]:
            counts[f"repaired:{name}"] += 1
    for _, fields in client.xrange(keyspace.dlq_stream):
        counts["records"] += 1
        counts[fields[b"reason"].decode()] += 1
    return counts


def test_a_chaos_batch_is_counted_once_in_its_hourly_bucket(
    farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    sidecar = make_sidecar(keyspace, redis_url, farm.url, AOS_STATS_TTL_SECONDS="7200")
    event = stream_event(farm, seed=21, limit=600)
    report = sidecar.handle_batch(event, Context())
    key, stats = bucket(redis_client, keyspace)

    assert key.endswith(
        ":"
        + bucket_hour(
            json.loads(redis_client.xrange(keyspace.stream, count=1)[0][1][b"envelope"])["meta"][
                "received_at"
            ]
        )
    )
    assert 7000 < redis_client.ttl(key) <= 7200
    assert stats["records"] == len(event["Records"])
    for outcome, count in report.counts.items():
        assert stats.get(outcome, 0) == count
    streams = from_streams(redis_client, keyspace)
    for name, count in streams.items():
        if name.startswith(("repaired:", "records", "clean", "repaired", "malformed")):
            assert stats.get(name, 0) == count, name
    assert stats["drift:vendor_id"] >= streams["drift:vendor_id"]
    assert stats["drifted"] == report.drifted

    sidecar.handle_batch(event, Context())
    assert bucket(redis_client, keyspace)[1] == stats


def test_unexpected_fields_are_counted(
    farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    sidecar = make_sidecar(keyspace, redis_url, farm.url)
    body = {
        "invoice_id": "INV-7",
        "total_amount": 1.5,
        "vendor_id": "V",
        "status": "PAID",
        "vendorID": "V",
        "memo": "x",
    }
    event = {"Records": [{"messageId": "u1", "body": json.dumps(body)}]}
    assert sidecar.handle_batch(event, Context()).outcomes == {"u1": "clean"}
    stats = bucket(redis_client, keyspace)[1]
    assert stats == {"records": 1, "clean": 1, "unexpected:memo": 1, "unexpected:vendorID": 1}


def test_a_replay_removes_its_dead_letter_and_moves_the_count_in_the_same_write(
    farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    down = make_sidecar(keyspace, redis_url, closed_port_url(), AOS_SOT_MAX_ATTEMPTS="1")
    drifted = json.dumps({"invoice_id": "INV-42", "total_amount": 3, "status": "PAID"})
    assert down.handle_batch({"Records": [{"messageId": "d1", "body": drifted}]}).failures
    down.dead_letter([("d1", drifted.encode())], "retries_exhausted", "gave up")
    _, before = bucket(redis_client, keyspace)
    assert before == {
        "records": 1,
        "retries_exhausted": 1,
        "drifted": 1,
        "drift:vendor_id": 1,
        "kind:missing": 1,
    }
    [(entry_id, fields)] = redis_client.xrange(keyspace.dlq_stream)
    replay = first_replay("d1", entry_id, fields)

    healthy = make_sidecar(keyspace, redis_url, farm.url)
    report = healthy.replay([replay])
    assert report.outcomes == {replay.item_id: "repaired"}
    assert redis_client.xlen(keyspace.dlq_stream) == 0
    [(_, main)] = redis_client.xrange(keyspace.stream)
    meta: dict[str, Any] = json.loads(main[b"envelope"])["meta"]
    assert meta["redriven_from"] == "d1" and meta["item_id"] == replay.item_id
    after = bucket(redis_client, keyspace)[1]
    assert after == {
        "records": 1,
        "retries_exhausted": 0,
        "repaired": 1,
        "drifted": 1,
        "drift:vendor_id": 1,
        "kind:missing": 1,
        "repaired:vendor_id": 1,
    }
    assert healthy.replay([replay]).duplicates == 1
    assert bucket(redis_client, keyspace)[1] == after
    assert redis_client.xlen(keyspace.stream) == 1


def test_a_replay_that_fails_again_goes_back_with_its_attempt_count(
    keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    down = make_sidecar(keyspace, redis_url, closed_port_url(), AOS_SOT_MAX_ATTEMPTS="1")
    drifted = json.dumps({"invoice_id": "INV-43", "total_amount": 3, "status": "PAID"})
    down.dead_letter([("d2", drifted.encode())], "retries_exhausted", "gave up")
    [(entry_id, fields)] = redis_client.xrange(keyspace.dlq_stream)
    replay = first_replay("d2", entry_id, fields)
    report = down.replay([replay])
    assert report.failures == [replay.item_id]
    assert redis_client.xlen(keyspace.dlq_stream) == 1
    down.dead_letter([(replay.item_id, replay.raw)], "retries_exhausted", "again", [replay])

    [(new_id, new)] = redis_client.xrange(keyspace.dlq_stream)
    assert new_id != entry_id
    assert new[b"redriven_from"] == b"d2" and new[b"attempts"] == b"1"
    assert new[b"item_id"].decode() == replay.item_id and new[b"raw"] == drifted.encode()
    assert bucket(redis_client, keyspace)[1]["retries_exhausted"] == 1


@pytest.mark.parametrize("distinct", [3, 300])
def test_the_script_adds_what_the_python_reference_says_for_new_items_only(
    distinct: int, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    sink = RedisStreamSink(
        redis_client, stream=keyspace.stream, dlq_stream=keyspace.dlq_stream, seen_ttl_s=60
    )
    entries = [SinkEntry(f"i{n}", "clean", b"{}", "") for n in range(600)]
    contributions = [contribution("clean", unexpected=(f"f{n % distinct}",)) for n in range(600)]
    sink.push(entries[::3], source_id=keyspace.source_id, received_at="2026-01-01T00:00:00Z")
    stats = BatchStats("2026010100", 60)
    stats.extend(contributions)
    results = sink.push(
        entries, source_id=keyspace.source_id, received_at="2026-01-01T00:00:00Z", stats=stats
    )
    assert bucket(redis_client, keyspace)[1] == stats.totals(r.written for r in results)
    assert bucket(redis_client, keyspace)[1]["records"] == 400
