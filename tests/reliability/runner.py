"""Drive the local runner as a real process and compute what its run must have produced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import redis

from local.redis_state import checkpoint_key, stream_identity

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "local" / "run_sidecar.py"


def runner_command(
    *,
    farm_url: str,
    redis_url: str,
    count: int,
    seed: int = 0,
    batch_size: int = 100,
    extra: Sequence[str] = (),
) -> list[str]:
    """The runner's command line (docs/contract.md section 9), JSON summary on."""
    return [
        sys.executable,
        str(RUNNER),
        "--farm-url", farm_url,
        "--redis-url", redis_url,
        "--count", str(count),
        "--seed", str(seed),
        "--batch-size", str(batch_size),
        "--chaos",
        "--json",
        *extra,
    ]  # fmt: skip


def runner_env(keys: Mapping[str, str], redis_url: str) -> dict[str, str]:
    """The process environment: ours plus the test's key names and Redis."""
    return {**os.environ, **keys, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}


def start_runner(
    command: Sequence[str], env: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Start the runner with stdout and stderr going to `log` (.out / .err)."""
    return subprocess.Popen(
        list(command),
        env=dict(env),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=log.with_suffix(".out").open("wb"),
        stderr=log.with_suffix(".err").open("wb"),
    )


def summary_of(stdout: str) -> dict[str, Any]:
    """The `--json` summary: the last line of stdout."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "the runner printed nothing"
    summary = json.loads(lines[-1])
    assert isinstance(summary, dict)
    return summary


def read_checkpoint(client: redis.Redis, source_id: str, *, seed: int) -> int:
    """The runner's cursor on the chaos stream of `seed` (0 when absent); raises redis
    errors as they come."""
    value = client.get(checkpoint_key(source_id, stream_identity(seed, True)))
    return int(value) if value is not None else 0


def wait_for_checkpoint(
    client: redis.Redis,
    source_id: str,
    at_least: int,
    process: subprocess.Popen[bytes],
    *,
    seed: int,
) -> int:
    """Poll until the checkpoint reaches `at_least` (or the runner exits); return it."""
    while True:
        value = read_checkpoint(client, source_id, seed=seed)
        if value >= at_least or process.poll() is not None:
            return value
        time.sleep(0.02)


def stream_records(
    farm_url: str, *, seed: int, count: int, chaos: bool = True, token: str | None = None
) -> list[str]:
    """The farm's stream records 0..count-1 (data text), read page by page."""
    records: list[str] = []
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=farm_url, timeout=60, headers=headers) as client:
        while len(records) < count:
            params: dict[str, str | int] = {
                "chaos": str(chaos).lower(),
                "cursor": len(records),
                "limit": min(1000, count - len(records)),
                "seed": seed,
            }
            response = client.get("/api/stream", params=params)
            response.raise_for_status()
            page = response.json()["records"]
            assert [r["sequence"] for r in page] == list(
                range(len(records), len(records) + len(page))
            )
            records.extend(r["data"] for r in page)
    return records


def expected_items(
    farm_url: str, *, seed: int, count: int, source: str = "sqs", token: str | None = None
) -> dict[str, bytes]:
    """Item id -> raw bytes for sequences 0..count-1, with the runner's deterministic ids."""
    from local.events import EventFactory

    factory = EventFactory(source, seed=seed, chaos=True)  # type: ignore[arg-type]
    data = stream_records(farm_url, seed=seed, count=count, token=token)
    return {
        factory.item_id(sequence): text.encode("utf-8", "surrogatepass")
        for sequence, text in enumerate(data)
    }
