"""The runner against a token-protected farm and a TLS Redis: works, and prints no secret."""

from __future__ import annotations

import subprocess
import uuid
from typing import Any

import pytest

from .conftest import require
from .farm_truth import FarmTruth
from .ledger import check_ledger, drifted_invoice_ids, read_ledger
from .redis_server import PrivateRedis
from .runner import expected_items, read_checkpoint, runner_command, runner_env, summary_of

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]

COUNT = 1_000


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the runner to completion."""
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def test_runner_with_token_farm_and_tls_redis(
    tls_redis: PrivateRedis, farm_factory: Any, unique_keys: dict[str, str]
) -> None:
    require("local.run_sidecar")
    token = f"tok-{uuid.uuid4().hex}-SECRET"
    farm = farm_factory({"FARM_API_TOKEN": token})
    command = runner_command(farm_url=farm.url, redis_url=tls_redis.url, count=COUNT, seed=3)
    env = {**runner_env(unique_keys, tls_redis.url), "FARM_API_TOKEN": token}

    refused = run(command, {k: v for k, v in env.items() if k != "FARM_API_TOKEN"})
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr

    result = run(command, env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert token not in result.stdout + result.stderr
    summary = summary_of(result.stdout)
    assert summary["read"] == COUNT and summary["reconciled"] is True

    client = tls_redis.client()
    ledger = read_ledger(client, unique_keys["AOS_STREAM"], unique_keys["AOS_DLQ_STREAM"])
    assert read_checkpoint(client, unique_keys["AOS_SOURCE_ID"], seed=3) == COUNT
    client.close()
    items = expected_items(farm.url, seed=3, count=COUNT, token=token)
    truth = FarmTruth(farm.url, token=token)
    try:
        truth.prefetch(drifted_invoice_ids(items.values()))
        assert check_ledger(ledger, items, sot=truth) == []
    finally:
        truth.close()
    assert ledger.dlq_reasons()["retries_exhausted"] == 0
    assert token not in str(ledger.main) + str(ledger.dlq)
