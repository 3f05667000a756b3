"""Runner redelivery and dead-lettering against a farm whose source of truth always fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from local.farm_server import FarmServer, start_farm

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).resolve().parents[2] / "local" / "run_sidecar.py"
FAST_SIDECAR = {
    "AOS_SOT_MAX_ATTEMPTS": "1",
    "AOS_SOT_BACKOFF_SECONDS": "0",
    "AOS_SOT_TIMEOUT_SECONDS": "2",
}


@pytest.fixture(scope="module")
def failing_farm() -> Iterator[FarmServer]:
    with start_farm(env={"FARM_SOT_FAILURE_RATE": "1"}) as server:
        yield server


def test_drifted_records_end_as_retries_exhausted_when_the_source_of_truth_is_down(
    failing_farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    args = [
        sys.executable, str(RUNNER), "--farm-url", failing_farm.url, "--redis-url", redis_url,
        "--count", "300", "--batch-size", "100", "--max-attempts", "3",
        "--retry-backoff", "0.01", "--json",
    ]  # fmt: skip
    env = {**os.environ, **keyspace.env(), **FAST_SIDECAR}
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=180, env=env, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout.strip().splitlines()[-1])

    assert s["repaired"] == s["drift"]["repaired_locally"] > 0
    assert s["retries_exhausted"] > 0
    assert s["retries"] == 2 * s["retries_exhausted"]
    assert s["reconciled"] is True and s["read"] == 300

    dlq = [fields for _id, fields in redis_client.xrange(keyspace.dlq_stream)]
    exhausted = [f for f in dlq if f[b"reason"] == b"retries_exhausted"]
    assert len(exhausted) == s["retries_exhausted"]
    assert all(
        f[b"error"].startswith(b"not processed after 3 deliveries; last error: ")
        and b"HTTP 503 SERVER_UNAVAILABLE" in f[b"error"]
        for f in exhausted
    )
    assert all(f[b"source_id"] == keyspace.source_id.encode() for f in exhausted)
    for fields in exhausted:
        assert fields[b"raw"].startswith(b"{")
    main = [json.loads(fields[b"envelope"]) for _id, fields in redis_client.xrange(keyspace.stream)]
    repaired = [e["meta"] for e in main if e["meta"]["is_repaired"]]
    assert all(m["repair_source"] == "local" for m in repaired)
    assert all("source_of_truth" not in m["repairs"].values() for m in repaired)
    assert len(main) == s["clean"] + s["repaired"]
    assert redis_client.get(keyspace.checkpoint_key) == b"300"
