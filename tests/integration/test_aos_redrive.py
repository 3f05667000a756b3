"""The operator's day after an outage: 5,000 records against a dead source of truth, then
`aos redrive --reason retries_exhausted` against a healthy one, `aos report` agreeing."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from local.farm_server import FarmServer, start_farm
from tests.conftest import KeySpace
from tests.integration.aos_command import run_aos

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
COUNT = 5000


@pytest.fixture(scope="module")
def dead_farm() -> Iterator[FarmServer]:
    with start_farm(env={"FARM_SOT_FAILURE_RATE": "1"}) as server:
        yield server


@pytest.fixture(scope="module")
def healthy_farm() -> Iterator[FarmServer]:
    with start_farm() as server:
        yield server


def aos(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_aos(*args, env=env, timeout=600)


def last_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def streams(
    client: redis.Redis, keyspace: KeySpace
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    main = [json.loads(f[b"envelope"])["meta"] for _, f in client.xrange(keyspace.stream)]
    dlq = [
        {k.decode(): v.decode("utf-8", "replace") for k, v in f.items()}
        for _, f in client.xrange(keyspace.dlq_stream)
    ]
    return main, dlq


def test_outage_then_redrive_then_report(
    dead_farm: FarmServer,
    healthy_farm: FarmServer,
    keyspace: KeySpace,
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "REDIS_URL": redis_url,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "AOS_SOT_MAX_ATTEMPTS": "1",
        **keyspace.env(),
    }
    outage = last_json(
        aos(
            "run",
            "--farm-url",
            dead_farm.url,
            "--count",
            str(COUNT),
            "--batch-size",
            "250",
            "--max-attempts",
            "2",
            "--retry-backoff",
            "0",
            "--quiet",
            "--json",
            env={**base, "FARM_URL": dead_farm.url},
        )
    )
    assert outage["read"] == COUNT and outage["reconciled"] is True
    exhausted = outage["retries_exhausted"]
    assert exhausted > 300

    env = {**base, "FARM_URL": healthy_farm.url}
    dry = last_json(aos("redrive", "--reason", "retries_exhausted", "--dry-run", "--json", env=env))
    assert dry["selected"] == exhausted and dry["dlq_after"] == dry["dlq_before"]

    redrive = last_json(aos("redrive", "--reason", "retries_exhausted", "--json", env=env))
    assert redrive["selected"] == exhausted
    assert redrive["reconciled"] is True
    assert redrive["failed_again"] == 0 and redrive["already_replayed"] == 0
    assert redrive["repaired"] + redrive["unrepairable"] == exhausted
    assert redrive["repaired"] > 0.9 * exhausted

    main, dlq = streams(redis_client, keyspace)
    replayed = [m for m in main if "redriven_from" in m]
    assert len(replayed) == redrive["repaired"]
    assert all(
        m["is_repaired"] and m["item_id"].startswith(m["redriven_from"] + ":redrive:")
        for m in replayed
    )
    assert {d["reason"] for d in dlq} == {"malformed", "unrepairable"}
    originals = [m.get("redriven_from", m["item_id"]) for m in main]
    originals += [d.get("redriven_from", d["item_id"]) for d in dlq]
    assert len(originals) == len(set(originals)) == COUNT

    again = last_json(aos("redrive", "--reason", "retries_exhausted", "--json", env=env))
    assert again["selected"] == 0 and again["reconciled"] is True

    report = last_json(aos("report", "--hours", "2", "--json", env=env))["total"]
    expected: Counter[str] = Counter()
    for meta in main:
        expected["repaired" if meta["is_repaired"] else "clean"] += 1
    for entry in dlq:
        expected[entry["reason"]] += 1
    assert report["records"] == len(main) + len(dlq) == COUNT
    assert report["outcomes"] == {
        "clean": expected["clean"],
        "repaired": expected["repaired"],
        "malformed": expected["malformed"],
        "unrepairable": expected["unrepairable"],
        "retries_exhausted": 0,
    }
    assert report["dead_letters"] == {
        "malformed": expected["malformed"],
        "unrepairable": expected["unrepairable"],
    }
    drifted_in_main = Counter(name for m in main for name in m["drifted_fields"])
    for name, count in drifted_in_main.items():
        assert report["drift"][name] >= count
        assert report["repaired_fields"][name] == count


def _dead_letters(redis_url: str, keyspace: KeySpace, farm_url: str, count: int) -> None:
    from sidecar_fn.settings import Settings
    from sidecar_fn.telemetry import NullMetrics
    from sidecar_fn.wiring import build_sidecar
    from tests.unit.sidecar.fakes import CapturedLogger

    sidecar = build_sidecar(
        Settings.from_env({**keyspace.env(), "REDIS_URL": redis_url, "FARM_URL": farm_url}),
        metrics=NullMetrics(),
        logger=CapturedLogger().logger,
    )
    items = [
        (
            f"orig-{n}",
            json.dumps(
                {"invoice_id": f"INV-{n + 1}", "total_amount": 1, "status": "PAID"}
            ).encode(),
        )
        for n in range(count)
    ]
    sidecar.dead_letter(items, "retries_exhausted", "source of truth down")


def test_two_concurrent_redrives_write_each_record_once(
    healthy_farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    import threading

    from aos.redrive import Redrive, RedriveOptions
    from sidecar_fn.settings import Settings
    from sidecar_fn.telemetry import NullMetrics
    from sidecar_fn.wiring import build_sidecar
    from tests.unit.sidecar.fakes import CapturedLogger

    _dead_letters(redis_url, keyspace, healthy_farm.url, 400)
    settings = Settings.from_env(
        {**keyspace.env(), "REDIS_URL": redis_url, "FARM_URL": healthy_farm.url}
    )
    summaries = []

    def one() -> None:
        client = redis.Redis.from_url(redis_url)
        sidecar = build_sidecar(
            settings, redis_client=client, metrics=NullMetrics(), logger=CapturedLogger().logger
        )
        runner = Redrive(client, sidecar, keyspace.dlq_stream, keyspace.stream)
        summaries.append(
            runner.run(RedriveOptions("retries_exhausted", batch_size=50, progress=False))
        )

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    main, dlq = streams(redis_client, keyspace)
    assert dlq == []
    assert sorted(m["redriven_from"] for m in main) == sorted(f"orig-{n}" for n in range(400))
    assert sum(s.repaired for s in summaries) == 400
    assert sum(s.already_replayed for s in summaries) == sum(s.selected for s in summaries) - 400


def test_a_replay_that_fails_again_keeps_its_attempt_count(
    dead_farm: FarmServer, keyspace: KeySpace, redis_url: str, redis_client: redis.Redis
) -> None:
    _dead_letters(redis_url, keyspace, dead_farm.url, 3)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "REDIS_URL": redis_url,
        "FARM_URL": dead_farm.url,
        "AOS_SOT_MAX_ATTEMPTS": "1",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        **keyspace.env(),
    }
    for attempt in (1, 2):
        summary = last_json(aos("redrive", "--reason", "retries_exhausted", "--json", env=env))
        assert summary["failed_again"] == 3 and summary["reconciled"] is True
        _, dlq = streams(redis_client, keyspace)
        assert len(dlq) == 3
        assert {d["attempts"] for d in dlq} == {str(attempt)}
        assert sorted(d["redriven_from"] for d in dlq) == ["orig-0", "orig-1", "orig-2"]
        assert all(f"redrive attempt {attempt} failed" in d["error"] for d in dlq)
