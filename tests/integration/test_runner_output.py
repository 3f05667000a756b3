"""The runner's output streams: the summary alone on stdout, the sidecar's logs on stderr
with one line per dead-lettered record."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from local.farm_server import FarmServer
from tests.integration.test_runner_e2e import run, runner_args, summary_of

pytestmark = pytest.mark.integration


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_logs_go_to_stderr_with_one_line_per_dead_letter(
    farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    result = run(
        runner_args(farm.url, redis_url, keyspace, "--count", "1000", "--log-level", "INFO")
    )
    assert result.returncode == 0, result.stderr
    stdout_json = _json_lines(result.stdout)
    assert len(stdout_json) == 1 and "level" not in stdout_json[0]
    s = summary_of(result.stdout)

    logs = _json_lines(result.stderr)
    assert any(line["message"] == "Record Repaired." for line in logs)
    dead = [line for line in logs if line["message"] == "Record Dead-Lettered."]
    assert len(dead) == s["dlq_added"] == s["malformed"] + s["unrepairable"]
    assert all(line["level"] == "INFO" and line["error"] for line in dead)
    reasons = {line["reason"] for line in dead}
    assert reasons == {"malformed", "unrepairable"}
    assert any(line["error"] == "drifted record has no invoice_id" for line in dead)
    logged = {line["item_id"] for line in dead}
    in_dlq = {f[b"item_id"].decode() for _id, f in redis_client.xrange(keyspace.dlq_stream)}
    assert logged == in_dlq


def test_at_the_default_level_nothing_but_the_summary_is_printed(
    farm: FarmServer, redis_url: str, keyspace: Any
) -> None:
    result = run(runner_args(farm.url, redis_url, keyspace, "--count", "300"))
    assert result.returncode == 0, result.stderr
    assert _json_lines(result.stderr) == []
    assert len(_json_lines(result.stdout)) == 1
