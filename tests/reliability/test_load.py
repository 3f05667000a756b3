"""Load: a long chaotic run through the runner, memory flat, totals reconciled, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from local.redis_state import checkpoint_key, stream_identity

from .farm_truth import FarmTruth
from .ledger import check_ledger, drifted_invoice_ids, read_ledger
from .runner import expected_items, read_checkpoint, runner_command, runner_env, summary_of

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]

LOAD_RECORDS = int(os.environ.get("AOS_RELIABILITY_LOAD_RECORDS", "200000"))
BASELINE_RECORDS = max(1_000, LOAD_RECORDS // 10)
SEED = 11
CHAOS_ENV = {"FARM_SOT_FAILURE_RATE": "0.3", "FARM_SOT_LATENCY_MS": "2"}
RSS_GROWTH_LIMIT = 1.25
RSS_SLACK_KIB = 16 * 1024


@dataclass(frozen=True)
class Run:
    """One finished runner process."""

    code: int
    peak_rss_kib: int
    summary: dict[str, Any]
    stderr: str


PEAK_RSS_WRAPPER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
sys.stderr.write(f"\\npeak_rss_kib={usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured_run(command: list[str], env: dict[str, str], log: Path) -> Run:
    """Run the runner to completion under a small wrapper that reads its peak RSS from wait4.

    The wrapper (a fresh, small interpreter) forks the runner, so the runner's peak is not
    inflated by a copy of this test process taken at fork time.
    """
    with log.with_suffix(".out").open("wb") as out, log.with_suffix(".err").open("wb") as err:
        code = subprocess.call(
            [sys.executable, "-c", PEAK_RSS_WRAPPER, *command],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    stdout = log.with_suffix(".out").read_text()
    stderr, _, peak = log.with_suffix(".err").read_text().rpartition("peak_rss_kib=")
    return Run(
        code=code,
        peak_rss_kib=int(peak),
        summary=summary_of(stdout) if stdout.strip() else {},
        stderr=stderr,
    )


def verify(client: redis.Redis, keys: dict[str, str], farm_url: str, count: int) -> None:
    """Every record 0..count-1 in exactly one place, correct; repairs equal the source."""
    assert read_checkpoint(client, keys["AOS_SOURCE_ID"], seed=SEED) == count
    ledger = read_ledger(client, keys["AOS_STREAM"], keys["AOS_DLQ_STREAM"])
    assert ledger.duplicates() == {}
    assert ledger.main_entries + ledger.dlq_entries == count
    truth = FarmTruth(farm_url)
    try:
        items = expected_items(farm_url, seed=SEED, count=count)
        truth.prefetch(drifted_invoice_ids(items.values()))
        assert check_ledger(ledger, items, sot=truth) == []
    finally:
        truth.close()


def drop_run_keys(client: redis.Redis, keys: dict[str, str]) -> None:
    """Delete one run's streams, checkpoint and idempotency markers, pipelined."""
    source = keys["AOS_SOURCE_ID"]
    client.delete(
        keys["AOS_STREAM"],
        keys["AOS_DLQ_STREAM"],
        checkpoint_key(source, stream_identity(SEED, True)),
    )
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"aos:seen:{source}:*", count=10_000):
        batch.append(key)
        if len(batch) == 5_000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


def test_long_chaotic_run_memory_flat_and_reconciled(
    tmp_path: Path, farm_factory: Any, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    farm = farm_factory(CHAOS_ENV)
    runs = {}
    for name, count in (("baseline", BASELINE_RECORDS), ("load", LOAD_RECORDS)):
        keys = {**keyspace.env(), "AOS_SOURCE_ID": f"{keyspace.source_id}-{name}"}
        keys["AOS_STREAM"] = f"{keyspace.stream}:{name}"
        keys["AOS_DLQ_STREAM"] = f"{keyspace.dlq_stream}:{name}"
        command = runner_command(
            farm_url=farm.url, redis_url=redis_url, count=count, seed=SEED, batch_size=500
        )
        try:
            run = measured_run([*command, "--quiet"], runner_env(keys, redis_url), tmp_path / name)
            assert run.code == 0, run.stderr[-2000:]
            assert run.summary["read"] == count
            assert run.summary["reconciled"] is True
            verify(redis_client, keys, farm.url, count)
            runs[name] = run
        finally:
            drop_run_keys(redis_client, keys)
    baseline, load = runs["baseline"], runs["load"]
    report = {
        name: {"records": run.summary["read"], "peak_rss_kib": run.peak_rss_kib, **run.summary}
        for name, run in runs.items()
    }
    print(f"load figures: {report}")
    assert load.peak_rss_kib <= baseline.peak_rss_kib * RSS_GROWTH_LIMIT + RSS_SLACK_KIB, report
