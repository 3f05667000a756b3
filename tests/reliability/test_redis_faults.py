"""Redis refusing connections, stopped or killed between batches: failed back, then once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .batches import Item, mixed_items
from .conftest import FAST_RECOVERY, SidecarFactory, sidecar_env
from .delivery import deliver, redeliver_failed
from .evil_sot import EvilSourceOfTruth
from .ledger import check_ledger, read_ledger
from .redis_server import PrivateRedis

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ITEMS = mixed_items("redis", 50)


def test_redis_refusing_connections_fails_every_item_back_then_delivers_once(
    tmp_path: Path,
    evil_sot: EvilSourceOfTruth,
    make_sidecar: SidecarFactory,
    unique_keys: dict[str, str],
) -> None:
    server = PrivateRedis(tmp_path)
    sidecar = make_sidecar(sidecar_env(unique_keys, server.url, evil_sot.url))
    first = deliver(sidecar, ITEMS, budget_ms=5_000)
    assert sorted(first.failed) == sorted(item_id for item_id, _ in ITEMS)
    assert first.counts["failed"] == len(ITEMS)

    server.start()
    try:
        assert redeliver_failed(sidecar, ITEMS, first.failed) == []
        client = server.client()
        ledger = read_ledger(client, unique_keys["AOS_STREAM"], unique_keys["AOS_DLQ_STREAM"])
        client.close()
        assert check_ledger(ledger, dict(ITEMS)) == []
    finally:
        server.kill()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_redis_lost_between_batches_and_restarted_with_aof(
    how: str,
    private_redis: PrivateRedis,
    evil_sot: EvilSourceOfTruth,
    make_sidecar: SidecarFactory,
    unique_keys: dict[str, str],
) -> None:
    env = sidecar_env(unique_keys, private_redis.url, evil_sot.url)
    sidecar = make_sidecar(env)
    batches = [ITEMS[:20], ITEMS[20:35], ITEMS[35:]]
    assert deliver(sidecar, batches[0]).failed == []

    getattr(private_redis, how)()
    outage = deliver(sidecar, batches[1], budget_ms=3_000)
    assert sorted(outage.failed) == sorted(item_id for item_id, _ in batches[1])

    private_redis.start()
    assert redeliver_failed(sidecar, batches[1], outage.failed) == []
    assert deliver(sidecar, batches[2]).failed == []
    assert deliver(sidecar, ITEMS).failed == [], "a full redelivery after restart failed"

    client = private_redis.client()
    ledger = read_ledger(client, unique_keys["AOS_STREAM"], unique_keys["AOS_DLQ_STREAM"])
    client.close()
    assert check_ledger(ledger, dict(ITEMS)) == []
    assert ledger.main_entries + ledger.dlq_entries == len(ITEMS)


def test_redis_killed_while_batches_are_in_flight(
    private_redis: PrivateRedis,
    evil_sot: EvilSourceOfTruth,
    make_sidecar: SidecarFactory,
    unique_keys: dict[str, str],
) -> None:
    items = mixed_items("inflight", 12_000)
    env = sidecar_env(unique_keys, private_redis.url, evil_sot.url)
    sidecar = make_sidecar(env)
    failed: list[str] = []
    delivered = threading.Event()

    def trigger() -> None:
        for start in range(0, len(items), 400):
            failed.extend(deliver(sidecar, items[start : start + 400], budget_ms=10_000).failed)
            delivered.set()

    worker = threading.Thread(target=trigger)
    worker.start()
    delivered.wait(timeout=60)
    private_redis.kill()
    # Long enough for batches to meet it: a call whose connection dies is sent again, so
    # an outage shorter than the retries is absorbed.
    time.sleep(1.5)
    private_redis.start()
    worker.join(timeout=300)
    assert not worker.is_alive()
    assert failed, "no batch met the outage"
    assert redeliver_failed(sidecar, items, failed) == []
    client = private_redis.client()
    ledger = read_ledger(client, unique_keys["AOS_STREAM"], unique_keys["AOS_DLQ_STREAM"])
    client.close()
    assert check_ledger(ledger, dict(items)) == []
    assert ledger.main_entries + ledger.dlq_entries == len(items)


def assert_failed_by_whole_calls(batch: list[Item], delivery: Any, *, kinesis: bool) -> None:
    """Each script call of the batch is failed back whole or not at all. In mixed_items the
    drifted records with an id are those at positions 1, 3, 6 and 7 of every ten (all asked
    of the source of truth, AOS_VERIFY_SHARE being 1); the others go in parts of 100."""
    ids = [item_id for item_id, _ in batch]
    if kinesis:
        calls = [set(ids)]
    else:
        asked = {item_id for position, item_id in enumerate(ids) if position % 10 in (1, 3, 6, 7)}
        assert delivery.report.drift.source_lookups == len(asked)
        calls = [asked] + [set(ids[lo : lo + 100]) - asked for lo in range(0, len(ids), 100)]
    failed = set(delivery.failed)
    for call in calls:
        assert failed & call in (set(), call), "a write was failed back only in part"


@pytest.mark.parametrize("kinesis", [True, False], ids=["kinesis", "sqs"])
def test_redis_out_of_memory_fails_each_write_back_whole(
    kinesis: bool,
    private_redis: PrivateRedis,
    evil_sot: EvilSourceOfTruth,
    make_sidecar: SidecarFactory,
    unique_keys: dict[str, str],
) -> None:
    """A Kinesis batch is one script call, failed back whole; a standard SQS batch is one
    call per part of AOS_WRITE_PART_RECORDS records (what needs no answer from the source
    of truth, sent while it is asked) plus one for the records it repaired, and each call
    is failed back whole."""
    items = mixed_items("oom", 3_000)
    client = private_redis.client()
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", str(used + 600_000))
    env = sidecar_env(unique_keys, private_redis.url, evil_sot.url)
    sidecar = make_sidecar(env)
    failed: list[str] = []
    for start in range(0, len(items), 300):
        batch = items[start : start + 300]
        delivery = deliver(sidecar, batch, kinesis=kinesis)
        assert_failed_by_whole_calls(batch, delivery, kinesis=kinesis)
        failed += delivery.failed
    assert 0 < len(failed) < len(items), "expected Redis to run out of memory part-way"
    ledger = read_ledger(client, unique_keys["AOS_STREAM"], unique_keys["AOS_DLQ_STREAM"])
    assert check_ledger(ledger, dict(items), pending=failed) == []

    client.config_set("maxmemory", "0")
    assert redeliver_failed(sidecar, items, failed, kinesis=kinesis) == []
    ledger = read_ledger(client, unique_keys["AOS_STREAM"], unique_keys["AOS_DLQ_STREAM"])
    client.close()
    assert check_ledger(ledger, dict(items)) == []


WARM_CONTAINER = """
import json, sys
from sidecar_fn.errors import BatchFailed
from sidecar_fn.handler import handler
from reliability.batches import LambdaContext, mixed_items, sqs_event
items = mixed_items("warm", 30)
for _ in sys.stdin:
    try:
        response = handler(sqs_event(items), LambdaContext(budget_ms=5_000))
    except BatchFailed as exc:
        response = exc.response
    failed = sorted(entry["itemIdentifier"] for entry in response["batchItemFailures"])
    print("RESULT " + json.dumps(failed), flush=True)
"""


def test_warm_lambda_container_recovers_when_redis_comes_back(
    tmp_path: Path, evil_sot: EvilSourceOfTruth, unique_keys: dict[str, str]
) -> None:
    server = PrivateRedis(tmp_path)
    tests_dir = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        **unique_keys,
        **FAST_RECOVERY,
        "REDIS_URL": server.url,
        "FARM_URL": evil_sot.url,
        "PYTHONPATH": os.pathsep.join([str(tests_dir), str(tests_dir.parent)]),
    }
    container = subprocess.Popen(
        [sys.executable, "-c", WARM_CONTAINER],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert container.stdin is not None and container.stdout is not None

    def invoke() -> list[str]:
        assert container.stdin is not None and container.stdout is not None
        container.stdin.write("invoke\n")
        container.stdin.flush()
        for line in container.stdout:
            if line.startswith("RESULT "):
                return list(json.loads(line[len("RESULT ") :]))
        raise AssertionError("the container exited without answering")

    try:
        assert len(invoke()) == 30, "with Redis down every item must be failed back"
        server.start()
        assert invoke() == []
        assert invoke() == []
        client = server.client()
        ledger = read_ledger(client, unique_keys["AOS_STREAM"], unique_keys["AOS_DLQ_STREAM"])
        client.close()
        assert check_ledger(ledger, dict(mixed_items("warm", 30))) == []
    finally:
        container.stdin.close()
        container.wait(timeout=30)
        container.stdout.close()
        server.kill()
