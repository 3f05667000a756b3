"""The runner keeps streams apart: a checkpoint per stream that never moves back, one
identity per record whatever the event shape, samples from this run only."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis

from local.farm_server import FarmServer
from tests.integration.test_runner_e2e import (
    all_item_ids,
    expected_ids,
    run,
    runner_args,
    summary_of,
)

pytestmark = pytest.mark.integration


def test_a_range_replayed_as_kinesis_after_sqs_writes_no_duplicates(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    first = run(runner_args(farm.url, redis_url, keyspace, "--count", "300"))
    assert first.returncode == 0, first.stderr
    before = all_item_ids(redis_client, keyspace)
    assert len(before) == 300

    replay = run(
        runner_args(
            farm.url, redis_url, keyspace, "--event-source", "kinesis",
            "--from-cursor", "0", "--count", "300",
        )
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    s = summary_of(replay.stdout)
    assert s["already_processed"] == 300
    assert (s["main_stream_added"], s["dlq_added"]) == (0, 0)
    assert s["reconciled"] is True
    assert all_item_ids(redis_client, keyspace) == before
    assert set(before) == expected_ids(0, 300, source="kinesis") == expected_ids(0, 300)


def test_a_run_from_an_earlier_cursor_leaves_the_checkpoint_where_it_was(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    assert run(runner_args(farm.url, redis_url, keyspace, "--count", "500")).returncode == 0
    assert redis_client.get(keyspace.checkpoint_key) == b"500"

    replay = run(runner_args(farm.url, redis_url, keyspace, "--from-cursor", "0", "--count", "300"))
    assert replay.returncode == 0, replay.stderr
    assert "behind the checkpoint 500" in replay.stderr
    s = summary_of(replay.stdout)
    assert (s["next_cursor"], s["checkpoint"]) == (300, 500)
    assert redis_client.get(keyspace.checkpoint_key) == b"500"

    resumed = run(runner_args(farm.url, redis_url, keyspace, "--count", "100"))
    assert summary_of(resumed.stdout)["start_cursor"] == 500

    rewound = run(
        runner_args(
            farm.url, redis_url, keyspace, "--from-cursor", "0", "--count", "300",
            "--rewind-checkpoint",
        )
    )  # fmt: skip
    assert rewound.returncode == 0, rewound.stderr
    assert redis_client.get(keyspace.checkpoint_key) == b"300"


def test_a_pristine_run_does_not_resume_at_the_chaos_stream_cursor(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    assert run(runner_args(farm.url, redis_url, keyspace, "--count", "400")).returncode == 0

    pristine = run(runner_args(farm.url, redis_url, keyspace, "--no-chaos", "--count", "200"))
    assert pristine.returncode == 0, pristine.stderr
    assert "resuming" not in pristine.stderr
    s = summary_of(pristine.stdout)
    assert (s["start_cursor"], s["next_cursor"]) == (0, 200)
    assert redis_client.get(keyspace.checkpoint_key) == b"400"
    assert redis_client.get(keyspace.checkpoint_key_of(0, False)) == b"200"

    other_seed = run(runner_args(farm.url, redis_url, keyspace, "--seed", "5", "--count", "100"))
    assert summary_of(other_seed.stdout)["start_cursor"] == 0


def test_the_legacy_checkpoint_is_adopted_once(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    legacy = f"aos:checkpoint:{keyspace.source_id}"
    redis_client.set(legacy, "1000")
    result = run(runner_args(farm.url, redis_url, keyspace, "--count", "100"))
    assert result.returncode == 0, result.stderr
    assert "adopting" in result.stderr
    assert summary_of(result.stdout)["start_cursor"] == 1000
    assert redis_client.get(keyspace.checkpoint_key) == b"1100"
    assert redis_client.get(legacy) is None


def test_samples_come_from_this_run_only(farm: FarmServer, redis_url: str, keyspace: Any) -> None:
    chaos = runner_args(farm.url, redis_url, keyspace, "--count", "300")
    chaos.remove("--json")
    first = run(chaos)
    assert first.returncode == 0, first.stderr
    assert "Sample of repaired envelopes" in first.stdout
    assert "Latest dead letter" in first.stdout

    pristine = runner_args(farm.url, redis_url, keyspace, "--no-chaos", "--count", "100")
    pristine.remove("--json")
    second = run(pristine)
    assert second.returncode == 0, second.stderr
    assert re.search(r"^  repaired +0$", second.stdout, re.MULTILINE)
    assert "Sample of repaired envelopes" not in second.stdout
    assert "Latest dead letter" not in second.stdout
