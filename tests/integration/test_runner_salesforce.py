"""The runner with `--sot salesforce`: the sidecar logs in to the farm it started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from chalicelib.catalogue import pristine_invoice

from tests.conftest import KeySpace

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).resolve().parents[2] / "local" / "run_sidecar.py"
FULL_SCHEMA = "sidecar_fn/schemas/invoice_full.json"
COUNTED = ("read", "clean", "repaired", "malformed", "unrepairable", "retries_exhausted")


def run_runner(redis_url: str, keys: KeySpace, *extra: str, **env: str) -> dict[str, Any]:
    args = [
        sys.executable,
        str(RUNNER),
        "--redis-url",
        redis_url,
        "--source-id",
        keys.source_id,
        "--stream",
        keys.stream,
        "--dlq-stream",
        keys.dlq_stream,
        "--json",
        "--quiet",
        *extra,
    ]
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("FARM_", "SALESFORCE_", "AOS_"))
    }
    environ.update({"POWERTOOLS_METRICS_DISABLED": "true", **env})
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL, env=environ
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(summary, dict) and summary["reconciled"] is True
    return summary


def test_salesforce_run_reconciles_like_the_farm_run_with_pristine_envelopes(
    redis_url: str, redis_client: redis.Redis, keyspace: KeySpace
) -> None:
    salesforce = run_runner(
        redis_url,
        keyspace,
        "--sot",
        "salesforce",
        "--count",
        "1500",
        FARM_SF_SESSION_TTL_SECONDS="1",
        AOS_SCHEMA="sidecar_fn/schemas/invoice_full.json",
    )
    assert salesforce["sot"] == "salesforce"
    payloads = [
        orjson.loads(f[b"envelope"])["payload"] for _, f in redis_client.xrange(keyspace.stream)
    ]
    assert len(payloads) == salesforce["clean"] + salesforce["repaired"]
    for payload in payloads:
        assert payload == pristine_invoice(int(payload["invoice_id"][4:]))
    twin = KeySpace(
        f"{keyspace.source_id}-farm", f"{keyspace.stream}-farm", f"{keyspace.dlq_stream}-farm"
    )
    try:
        farm = run_runner(redis_url, twin, "--count", "1500", AOS_SCHEMA=FULL_SCHEMA)
    finally:
        redis_client.delete(twin.stream, twin.dlq_stream)
    assert farm["sot"] == "farm"
    assert {k: salesforce[k] for k in COUNTED} == {k: farm[k] for k in COUNTED}


def test_past_the_api_limit_records_are_handed_back_then_exhaust_their_retries(
    redis_url: str, redis_client: redis.Redis, keyspace: KeySpace
) -> None:
    summary = run_runner(
        redis_url,
        keyspace,
        "--sot",
        "salesforce",
        "--count",
        "1000",
        "--max-attempts",
        "2",
        "--retry-backoff",
        "0",
        FARM_SF_DAILY_API_LIMIT="3",
    )
    assert summary["repaired"] > 0
    assert summary["retries"] > 0 and summary["retries_exhausted"] > 0
    reasons = {f[b"reason"].decode() for _, f in redis_client.xrange(keyspace.dlq_stream)}
    assert reasons <= {"malformed", "unrepairable", "retries_exhausted"}
    assert "retries_exhausted" in reasons
