"""AOS_REDIS_WAIT_REPLICAS on a real Redis without replicas: the batch is handed back."""

from __future__ import annotations

import orjson
import pytest
import redis

from local.events import sqs_record
from sidecar_fn.settings import Settings
from sidecar_fn.wiring import build_sidecar
from tests.conftest import KeySpace
from tests.unit.sidecar.fakes import CapturedLogger, FakeSource, RecordingMetrics, pristine

pytestmark = pytest.mark.integration


def test_a_batch_no_replica_acknowledged_is_handed_back_then_counted_once(
    redis_url: str, redis_client: redis.Redis, keyspace: KeySpace
) -> None:
    env = {"REDIS_URL": redis_url, "AOS_REDIS_WAIT_REPLICAS": "1", **keyspace.env()}
    waiting = build_sidecar(
        Settings.from_env(env),
        source=FakeSource(),
        metrics=RecordingMetrics(),
        logger=CapturedLogger().logger,
    )
    event = {"Records": [sqs_record("w1", orjson.dumps(pristine("INV-1")).decode())]}

    assert waiting.handle_batch(event).failures == ["w1"]

    env["AOS_REDIS_WAIT_REPLICAS"] = "0"
    plain = build_sidecar(
        Settings.from_env(env),
        source=FakeSource(),
        metrics=RecordingMetrics(),
        logger=CapturedLogger().logger,
    )
    again = plain.handle_batch(event)
    assert again.failures == [] and again.duplicates == 1
    assert redis_client.xlen(keyspace.stream) == 1
