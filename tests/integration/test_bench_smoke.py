"""`python -m bench --smoke` runs end to end and counts what the batch path promises."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json-out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "records/s" in done.stdout
    document: dict[str, Any] = orjson.loads(out.read_bytes())
    return document


def rows(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["scenario"]: row for row in document["rows"]}


@pytest.mark.integration
def test_batch_path_makes_one_redis_round_trip_per_part_one_more_with_drift(
    smoke: dict[str, Any],
) -> None:
    """The smoke run's 50-record batches are one part (AOS_WRITE_PART_RECORDS is 100): one
    script call, and one more for the records repaired from the source of truth."""
    by_name = rows(smoke)
    for name, trips in (("handle_batch clean", 1), ("handle_batch mixed", 2)):
        assert by_name[name]["redis_rt_per_batch"] == trips
        assert by_name[name]["rate_median"] > 0
        assert by_name[name]["extra"]["reconciled"] is True
    passes = smoke["meta"]["counting_passes"]
    assert passes["sidecar mixed"]["round_trips"] == [2, 2]
    assert passes["sidecar clean"]["round_trips"] == [1, 1]


@pytest.mark.integration
def test_batch_path_asks_the_source_once_per_200_drifted_ids(smoke: dict[str, Any]) -> None:
    passes = smoke["meta"]["counting_passes"]
    mixed = passes["sidecar mixed"]
    assert sum(mixed["ids"]) > 0
    for requests, ids in zip(mixed["sot"], mixed["ids"], strict=True):
        assert requests == math.ceil(ids / 200)
    assert passes["sidecar clean"]["sot"] == [0, 0]


@pytest.mark.integration
def test_reference_is_per_record_and_agrees_on_outcomes(smoke: dict[str, Any]) -> None:
    passes = smoke["meta"]["counting_passes"]
    reference = passes["per-record mixed"]
    assert reference["sot"] == reference["ids"]
    assert reference["round_trips"] == [100, 100]
    assert smoke["meta"]["outcomes_agree"] == {
        f"{kind}, {other}": True for kind in ("mixed", "clean") for other in ("per-record", "peer")
    }


@pytest.mark.integration
def test_peer_is_per_record_with_powertools_idempotency(smoke: dict[str, Any]) -> None:
    peer = smoke["meta"]["counting_passes"]["peer mixed"]
    assert peer["sot"] == peer["ids"]
    assert peer["round_trips"] == [150, 150]
    assert peer["counts"] == smoke["meta"]["counting_passes"]["sidecar mixed"]["counts"]


@pytest.mark.integration
def test_cold_start_and_runner_memory_are_measured(smoke: dict[str, Any]) -> None:
    by_name = rows(smoke)
    assert by_name["cold start: import sidecar_fn.handler"]["import_ms"] > 0
    assert by_name["cold start, Lambda layout"]["import_ms"] > 0
    runner = [row for name, row in by_name.items() if name.startswith("runner --count")]
    assert len(runner) == 2
    for row in runner:
        assert row["peak_rss_mib"] > 0
        assert row["extra"]["summary"]["reconciled"] is True


@pytest.mark.integration
def test_concurrent_invocations_run_as_processes_and_reconcile(smoke: dict[str, Any]) -> None:
    concurrent = [row for row in smoke["rows"] if "invocations at once" in row["scenario"]]
    assert [row["extra"]["concurrency"] for row in concurrent] == [2, 2, 4, 4]
    for row in concurrent:
        assert 1 <= row["redis_rt_per_batch"] <= 2
        assert row["extra"]["reconciled"] is True
        assert row["extra"]["failures"] == 0
    assert all(row["extra"]["slowdown"] > 0 for row in concurrent if "SoT" in row["scenario"])
