"""The runner under SIGKILL and a Redis restart: exactly once in the streams, checkpoint kept."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from .conftest import require
from .farm_truth import FarmTruth
from .ledger import Ledger, check_ledger, drifted_invoice_ids, read_ledger
from .redis_server import PrivateRedis, free_port
from .runner import (
    expected_items,
    read_checkpoint,
    runner_command,
    runner_env,
    start_runner,
    summary_of,
    wait_for_checkpoint,
)

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]

COUNT = 6_000
SEED = 7
OUTAGE_SECONDS = 1.5
PAGE = 1_000


@pytest.fixture
def farm(farm_factory: Any) -> Any:
    """An in-process farm for the runner to poll."""
    require("local.run_sidecar")
    return farm_factory(None)


def verify_run(
    client: redis.Redis,
    keys: dict[str, str],
    farm_url: str,
    *,
    in_flight: int = 0,
    source: str = "sqs",
) -> Ledger:
    """Everything before the checkpoint is in exactly one place and correct; of the
    `in_flight` records after it (a batch written before a crash could checkpoint it)
    each is nowhere or once; nothing else is anywhere."""
    checkpoint = read_checkpoint(client, keys["AOS_SOURCE_ID"], seed=SEED)
    ledger = read_ledger(client, keys["AOS_STREAM"], keys["AOS_DLQ_STREAM"])
    assert ledger.duplicates() == {}
    items = expected_items(farm_url, seed=SEED, count=checkpoint + in_flight, source=source)
    optional = list(items)[checkpoint:]
    truth = FarmTruth(farm_url)
    try:
        truth.prefetch(drifted_invoice_ids(items.values()))
        assert check_ledger(ledger, items, optional=optional, sot=truth) == []
    finally:
        truth.close()
    if not in_flight:
        assert ledger.main_entries + ledger.dlq_entries == checkpoint
    return ledger


def finish(
    process: subprocess.Popen[bytes], log: Path, timeout: float = 240
) -> tuple[int, str, str]:
    """Wait for the runner; return its exit code, stdout and stderr."""
    code = process.wait(timeout=timeout)
    return code, log.with_suffix(".out").read_text(), log.with_suffix(".err").read_text()


REDELIVERY_NOTICE = re.compile(r"delivery \d+ of \d+ records failed: ")


def assert_one_clear_error(stderr: str) -> None:
    """The run ended with one error line (after any progress lines, the sidecar's JSON log
    lines and the notices of deliveries handed back for redelivery) and no traceback."""
    assert "Traceback" not in stderr
    lines = [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith('{"level"') and not REDELIVERY_NOTICE.search(line)
    ]
    errors = [line for line in lines if "error" in line.lower() and "progress:" not in line]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr[-2000:]


@pytest.mark.parametrize("source", ["sqs", "kinesis"])
def test_sigkill_mid_batch_then_restart_is_exactly_once(
    source: str,
    tmp_path: Path,
    farm: Any,
    redis_url: str,
    redis_client: redis.Redis,
    keyspace: Any,
) -> None:
    keys = keyspace.env()
    command = runner_command(
        farm_url=farm.url,
        redis_url=redis_url,
        count=COUNT,
        seed=SEED,
        extra=["--event-source", source],
    )
    env = runner_env(keys, redis_url)
    kills = 0
    for target in (1_000, 2_500, 4_000):
        process = start_runner(command, env, tmp_path / f"run{kills}")
        reached = wait_for_checkpoint(redis_client, keyspace.source_id, target, process, seed=SEED)
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        kills += 1
        assert reached >= target
        verify_run(redis_client, keys, farm.url, in_flight=PAGE, source=source)
    process = start_runner(command, env, tmp_path / "final")
    code, out, err = finish(process, tmp_path / "final")
    assert code == 0, err
    assert kills >= 2, "the runner finished before it could be killed twice"
    verify_run(redis_client, keys, farm.url, source=source)
    assert read_checkpoint(redis_client, keyspace.source_id, seed=SEED) >= COUNT
    assert summary_of(out)


@pytest.mark.parametrize(
    ("how", "outage_s"),
    [("stop", OUTAGE_SECONDS), ("kill", OUTAGE_SECONDS), ("kill", 0.2)],
    ids=["stop-1.5s", "kill-1.5s", "kill-0.2s"],
)
def test_redis_restarted_mid_run_reconciles(
    how: str,
    outage_s: float,
    tmp_path: Path,
    farm: Any,
    private_redis: PrivateRedis,
    unique_keys: dict[str, str],
) -> None:
    client = private_redis.client()
    command = runner_command(farm_url=farm.url, redis_url=private_redis.url, count=COUNT, seed=SEED)
    env = runner_env(unique_keys, private_redis.url)
    process = start_runner(command, env, tmp_path / "run")
    wait_for_checkpoint(client, unique_keys["AOS_SOURCE_ID"], 1_500, process, seed=SEED)
    assert process.poll() is None, "the run ended before Redis could be taken away"
    getattr(private_redis, how)()
    time.sleep(outage_s)
    private_redis.start()
    code, out, err = finish(process, tmp_path / "run")
    print(f"redis {how}: first run exit {code}; stderr tail: {err[-300:]!r}")
    if code != 0:
        assert_one_clear_error(err)
        process = start_runner(command, env, tmp_path / "rerun")
        code, out, err = finish(process, tmp_path / "rerun")
    assert code == 0, err
    print(f"summary: {summary_of(out)}")
    client = private_redis.client()
    verify_run(client, unique_keys, farm.url)
    assert read_checkpoint(client, unique_keys["AOS_SOURCE_ID"], seed=SEED) >= COUNT
    client.close()


def test_sigterm_finishes_the_batch_and_checkpoints_exactly(
    tmp_path: Path, farm: Any, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    keys = keyspace.env()
    command = runner_command(farm_url=farm.url, redis_url=redis_url, count=COUNT, seed=SEED)
    env = runner_env(keys, redis_url)
    process = start_runner(command, env, tmp_path / "run")
    wait_for_checkpoint(redis_client, keyspace.source_id, 1_500, process, seed=SEED)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGTERM)
    code, out, err = finish(process, tmp_path / "run", timeout=60)
    assert code == 130, err[-2000:]
    assert "Traceback" not in err
    checkpoint = read_checkpoint(redis_client, keyspace.source_id, seed=SEED)
    assert 1_500 <= checkpoint < COUNT
    verify_run(redis_client, keys, farm.url)
    summary = summary_of(out)
    assert summary["read"] == checkpoint
    process = start_runner(command, env, tmp_path / "rerun")
    code, _, err = finish(process, tmp_path / "rerun")
    assert code == 0, err
    verify_run(redis_client, keys, farm.url)


def test_runner_with_redis_refusing_connections_stops_cleanly(
    tmp_path: Path, farm: Any, unique_keys: dict[str, str]
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    command = runner_command(farm_url=farm.url, redis_url=url, count=200)
    process = start_runner(command, runner_env(unique_keys, url), tmp_path / "run")
    code, _, err = finish(process, tmp_path / "run", timeout=120)
    assert code != 0
    assert_one_clear_error(err)


def test_farm_lost_mid_run_then_back_on_the_same_port(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    farm_server = require("local.farm_server")
    require("local.run_sidecar")
    port = free_port()
    env = {"FARM_SOT_FAILURE_RATE": "0.1"}
    farm = farm_server.start_farm(env=env, port=port)
    keys = keyspace.env()
    command = runner_command(farm_url=farm.url, redis_url=redis_url, count=COUNT, seed=SEED)
    runner = runner_env(keys, redis_url)
    try:
        process = start_runner(command, runner, tmp_path / "run")
        wait_for_checkpoint(redis_client, keyspace.source_id, 1_500, process, seed=SEED)
        assert process.poll() is None, "the run ended before the farm could be taken away"
        farm.close()
        code, _, err = finish(process, tmp_path / "run", timeout=120)
        print(f"farm lost: first run exit {code}; stderr tail: {err[-300:]!r}")
        assert code != 0, "the run finished without the farm"
        assert_one_clear_error(err)
        farm = farm_server.start_farm(env=env, port=port)
        verify_run(redis_client, keys, farm.url, in_flight=PAGE)
        process = start_runner(command, runner, tmp_path / "rerun")
        code, _, err = finish(process, tmp_path / "rerun")
        assert code == 0, err
        verify_run(redis_client, keys, farm.url)
    finally:
        farm.close()


def test_two_runners_on_one_source_at_once_write_each_record_once(
    tmp_path: Path, farm: Any, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    keys = keyspace.env()
    command = runner_command(farm_url=farm.url, redis_url=redis_url, count=4_000, seed=SEED)
    env = runner_env(keys, redis_url)
    first = start_runner(command, env, tmp_path / "first")
    second = start_runner(command, env, tmp_path / "second")
    for process, log in ((first, tmp_path / "first"), (second, tmp_path / "second")):
        code, out, err = finish(process, log)
        print(f"concurrent runner: exit {code}; {summary_of(out)}")
        if code != 0:
            assert_one_clear_error(err)
            assert "do not reconcile" in err, "only the stream-count cross-check may object"
    assert read_checkpoint(redis_client, keyspace.source_id, seed=SEED) >= 4_000
    verify_run(redis_client, keys, farm.url, in_flight=4_000)
