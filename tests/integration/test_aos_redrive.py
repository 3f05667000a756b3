"""The operator's day after an outage: 5,000 records against a dead source of truth, then
`aos redrive --reason retries_exhausted` against a healthy one, `aos report` agreeing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from local.farm_server import FarmServer, start_farm
from tests.conftest import KeySpace

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
    return subprocess.run(
        [sys.executable, "-m", "aos", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=600,
    )


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
