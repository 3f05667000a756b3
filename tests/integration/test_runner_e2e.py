"""The runner end to end: real Redis, the farm over HTTP, the runner as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from local.events import EventFactory
from local.farm_server import FarmServer

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).resolve().parents[2] / "local" / "run_sidecar.py"


def runner_args(farm_url: str, redis_url: str, keys: Any, *extra: str) -> list[str]:
    return [
        sys.executable, str(RUNNER), "--farm-url", farm_url, "--redis-url", redis_url,
        "--source-id", keys.source_id, "--stream", keys.stream, "--dlq-stream", keys.dlq_stream,
        "--json", *extra,
    ]  # fmt: skip


def run(args: Sequence[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def summary_of(stdout: str) -> dict[str, Any]:
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert isinstance(summary, dict)
    return summary


def entries(client: redis.Redis, stream: str) -> list[dict[bytes, bytes]]:
    return [fields for _id, fields in client.xrange(stream)]


def main_item_ids(client: redis.Redis, stream: str) -> list[str]:
    return [orjson.loads(f[b"envelope"])["meta"]["item_id"] for f in entries(client, stream)]


def dlq_item_ids(client: redis.Redis, stream: str) -> list[str]:
    return [f[b"item_id"].decode() for f in entries(client, stream)]


def all_item_ids(client: redis.Redis, keys: Any) -> list[str]:
    return main_item_ids(client, keys.stream) + dlq_item_ids(client, keys.dlq_stream)


def expected_ids(start: int, stop: int, *, source: str = "sqs", seed: int = 0) -> set[str]:
    factory = EventFactory(source, seed=seed, chaos=True)  # type: ignore[arg-type]
    return {factory.item_id(n) for n in range(start, stop)}


@pytest.mark.parametrize("source", ["sqs", "kinesis"])
def test_a_run_lands_every_record_once_and_its_counts_match_redis(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any, source: str
) -> None:
    result = run(
        runner_args(
            farm.url, redis_url, keyspace, "--count", "700", "--batch-size", "50",
            "--event-source", source,
        )
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    s = summary_of(result.stdout)

    assert s["read"] == 700 and s["reconciled"] is True
    assert s["repaired"] > 0 and s["malformed"] > 0
    main_len, dlq_len = redis_client.xlen(keyspace.stream), redis_client.xlen(keyspace.dlq_stream)
    assert (s["main_stream_added"], s["dlq_added"]) == (main_len, dlq_len)
    assert main_len == s["clean"] + s["repaired"]
    assert dlq_len == s["malformed"] + s["unrepairable"] + s["retries_exhausted"]
    assert main_len + dlq_len == 700
    ids = all_item_ids(redis_client, keyspace)
    assert len(ids) == len(set(ids)) and set(ids) == expected_ids(0, 700, source=source)
    assert redis_client.get(keyspace.checkpoint_key) == b"700"
    repaired = [
        orjson.loads(f[b"envelope"])["meta"]
        for f in entries(redis_client, keyspace.stream)
        if orjson.loads(f[b"envelope"])["meta"]["is_repaired"]
    ]
    assert len(repaired) == s["repaired"]
    assert all(meta["source_id"] == keyspace.source_id for meta in repaired)


def test_a_restarted_run_resumes_at_the_checkpoint_without_gap_or_duplicate(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    first = run(runner_args(farm.url, redis_url, keyspace, "--count", "250", "--batch-size", "40"))
    assert first.returncode == 0, first.stderr
    assert redis_client.get(keyspace.checkpoint_key) == b"250"

    second = run(runner_args(farm.url, redis_url, keyspace, "--count", "300", "--batch-size", "40"))
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stderr
    s = summary_of(second.stdout)
    assert (s["start_cursor"], s["next_cursor"], s["read"]) == (250, 550, 300)
    assert s["already_processed"] == 0 and s["reconciled"] is True

    ids = all_item_ids(redis_client, keyspace)
    assert len(ids) == 550 and set(ids) == expected_ids(0, 550)
    assert redis_client.get(keyspace.checkpoint_key) == b"550"


def test_replaying_records_already_processed_adds_nothing_and_still_reconciles(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    assert run(runner_args(farm.url, redis_url, keyspace, "--count", "200")).returncode == 0
    before = len(all_item_ids(redis_client, keyspace))

    replay = run(
        runner_args(farm.url, redis_url, keyspace, "--from-cursor", "150", "--count", "100")
    )
    assert replay.returncode == 0, replay.stderr
    s = summary_of(replay.stdout)
    assert s["already_processed"] == 50
    assert s["main_stream_added"] + s["dlq_added"] == 50
    assert s["reconciled"] is True
    ids = all_item_ids(redis_client, keyspace)
    assert len(ids) == before + 50 == len(set(ids))
    assert set(ids) == expected_ids(0, 250)


def _signal_after_first_checkpoint(
    args: list[str], redis_client: redis.Redis, keyspace: Any, signum: signal.Signals
) -> tuple[int, str, str]:
    """Run the runner, send `signum` once it has checkpointed a batch; (status, out, err)."""
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while redis_client.get(keyspace.checkpoint_key) is None:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


def test_sigint_finishes_the_batch_checkpoints_summarises_and_exits_130(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    args = runner_args(farm.url, redis_url, keyspace, "--follow", "--batch-size", "20")
    returncode, stdout, stderr = _signal_after_first_checkpoint(
        args, redis_client, keyspace, signal.SIGINT
    )
    assert returncode == 130, stderr
    assert "Traceback" not in stderr and "SIGINT" in stderr
    s = summary_of(stdout)
    assert s["interrupted"] is True and s["reconciled"] is True
    assert s["read"] > 0 and s["read"] % 20 == 0
    assert redis_client.get(keyspace.checkpoint_key) == str(s["next_cursor"]).encode()
    ids = all_item_ids(redis_client, keyspace)
    assert len(ids) == s["read"] and set(ids) == expected_ids(0, s["read"])


def test_sigterm_stops_as_cleanly_as_ctrl_c(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    args = runner_args(farm.url, redis_url, keyspace, "--follow", "--batch-size", "10")
    returncode, stdout, stderr = _signal_after_first_checkpoint(
        args, redis_client, keyspace, signal.SIGTERM
    )
    assert returncode == 130, stderr
    s = summary_of(stdout)
    assert s["reconciled"] is True
    assert redis_client.xlen(keyspace.stream) + redis_client.xlen(keyspace.dlq_stream) == s["read"]


def test_progress_lines_and_samples_in_a_default_run(
    farm: FarmServer, redis_url: str, keyspace: Any
) -> None:
    args = runner_args(farm.url, redis_url, keyspace, "--count", "300")
    args.remove("--json")
    result = run(args)
    assert result.returncode == 0, result.stderr
    assert "Run summary (done)" in result.stdout
    assert "reconciled            yes" in result.stdout
    assert "Sample of repaired envelopes" in result.stdout
    assert '"is_repaired": true' in result.stdout
    assert "Latest dead letter" in result.stdout
    assert os.environ.get("FARM_API_TOKEN", "\0") not in result.stdout


def test_a_run_killed_mid_batch_restarts_with_every_record_exactly_once(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    args = runner_args(farm.url, redis_url, keyspace, "--follow", "--batch-size", "25")
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while int(redis_client.get(keyspace.checkpoint_key) or 0) < 100:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        process.kill()
        process.wait()
    killed_at = int(redis_client.get(keyspace.checkpoint_key) or 0)
    written = len(all_item_ids(redis_client, keyspace))
    assert written >= killed_at

    target = killed_at + 200
    resumed = run(runner_args(farm.url, redis_url, keyspace, "--count", "200"))
    assert resumed.returncode == 0, resumed.stderr
    s = summary_of(resumed.stdout)
    assert s["start_cursor"] == killed_at and s["next_cursor"] == target
    assert s["already_processed"] == written - killed_at
    assert s["reconciled"] is True
    ids = all_item_ids(redis_client, keyspace)
    assert len(ids) == len(set(ids)) == target
    assert set(ids) == expected_ids(0, target)
