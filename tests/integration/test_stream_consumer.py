"""The example consumer (examples/stream_consumer.py) against a real Redis and the sidecar."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import redis

from sidecar_fn.settings import Settings
from sidecar_fn.telemetry import NullMetrics
from sidecar_fn.wiring import build_sidecar
from tests.conftest import KeySpace
from tests.unit.sidecar.fakes import CapturedLogger, FakeSource, pristine

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stream_consumer.py"


def fill(redis_url: str, keyspace: KeySpace, client: redis.Redis) -> int:
    sidecar = build_sidecar(
        Settings.from_env({**keyspace.env(), "REDIS_URL": redis_url}),
        redis_client=client,
        source=FakeSource(),
        metrics=NullMetrics(),
        logger=CapturedLogger().logger,
    )
    bodies = [
        orjson.dumps({**pristine(f"INV-{n}"), "vendor_id": None if n % 4 else "V"})
        for n in range(1, 26)
    ] + [b"garbage"] * 5
    event = {"Records": [{"messageId": f"m{n}", "body": b.decode()} for n, b in enumerate(bodies)]}
    sidecar.handle_batch(event)
    client.xadd(keyspace.stream, {"note": "not an envelope"})
    return int(client.xlen(keyspace.stream))


def run(redis_url: str, keyspace: KeySpace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--redis-url",
            redis_url,
            "--stream",
            keyspace.stream,
            "--group",
            "billing",
            "--consumer",
            "example",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_example_claims_a_dead_consumers_entries_acks_everything_and_trims_safely(
    redis_url: str, keyspace: KeySpace, redis_client: redis.Redis
) -> None:
    total = fill(redis_url, keyspace, redis_client)
    assert total == 26
    redis_client.xgroup_create(keyspace.stream, "billing", id="0")
    redis_client.xgroup_create(keyspace.stream, "audit", id="0")
    redis_client.xreadgroup("billing", "dead", {keyspace.stream: ">"}, count=5)

    done = run(
        redis_url,
        keyspace,
        "--count",
        str(total),
        "--claim-idle-ms",
        "0",
        "--block-ms",
        "200",
        "--trim",
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 25
    assert {line["invoice_id"] for line in lines} == {f"INV-{n}" for n in range(1, 26)}
    assert sum(1 for line in lines if line["repaired"] == ["vendor_id"]) == 19
    summary = json.loads(done.stderr.strip().splitlines()[-1])["done"]
    assert summary == {"handled": 25, "not_envelopes": 1, "claimed": 5, "trimmed": 0}
    assert redis_client.xpending(keyspace.stream, "billing")["pending"] == 0
    assert redis_client.xlen(keyspace.stream) == total, "audit has read nothing: keep all"

    redis_client.xgroup_destroy(keyspace.stream, "audit")
    again = run(redis_url, keyspace, "--count", "1", "--block-ms", "100", "--trim")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stderr.strip().splitlines()[-1])["done"]["trimmed"] == total
    assert redis_client.xlen(keyspace.stream) == 0
