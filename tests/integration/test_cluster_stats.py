"""Drift statistics, replays and `aos report` on a real Redis Cluster: one slot per batch."""

from __future__ import annotations

import orjson
import pytest
from redis.cluster import RedisCluster

from aos.stats_read import read_buckets
from sidecar_fn.keys import key_names
from sidecar_fn.settings import Settings
from sidecar_fn.wiring import build_sidecar
from tests.integration.redis_cluster import LocalCluster
from tests.integration.test_stats_redis import first_replay
from tests.unit.sidecar.fakes import CapturedLogger, FakeSource, RecordingMetrics, pristine

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_statistics_and_replays_share_the_batch_slot(cluster: LocalCluster) -> None:
    settings = Settings.from_env(
        {"REDIS_URL": cluster.url(), "AOS_REDIS_CLUSTER": "true", "AOS_SOURCE_ID": "src-a"}
    )
    sidecar = build_sidecar(
        settings, source=FakeSource(), metrics=RecordingMetrics(), logger=CapturedLogger().logger
    )
    bodies = [pristine("INV-1"), {**pristine("INV-2"), "vendor_id": None}, "junk"]
    event = {
        "Records": [
            {"messageId": f"m{n}", "body": b if isinstance(b, str) else orjson.dumps(b).decode()}
            for n, b in enumerate(bodies)
        ]
    }
    assert sidecar.handle_batch(event).failures == []
    raw = orjson.dumps({"invoice_id": "INV-9", "total_amount": 1, "status": "PAID"})
    sidecar.dead_letter([("x1", raw)], "retries_exhausted", "source of truth down")

    client = RedisCluster.from_url(cluster.url())
    [key] = client.keys("aos:stats:*")
    assert key.decode().startswith("aos:stats:{src-a}:")
    [(entry_id, fields)] = [
        e for e in client.xrange(settings.dlq_stream) if e[1][b"reason"] == b"retries_exhausted"
    ]
    replay = first_replay("x1", entry_id, fields)
    assert sidecar.replay([replay]).outcomes == {replay.item_id: "repaired"}
    assert client.xlen(settings.dlq_stream) == 1

    names = key_names(settings.stream, settings.dlq_stream, cluster=True)
    hour = key.decode().rsplit(":", 1)[1]
    stats = read_buckets(client, names, "src-a", [hour])[hour]
    assert stats["records"] == 4 and stats["repaired"] == 2 and stats["retries_exhausted"] == 0
    assert stats["drift:vendor_id"] == 2 and stats["repaired:vendor_id"] == 2
    client.close()
