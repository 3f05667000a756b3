"""The runner's embedded default and its setup errors, as a newcomer meets them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).resolve().parents[2] / "local" / "run_sidecar.py"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, str(RUNNER), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=Path(__file__).resolve().parents[2] / "farm_api",
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_with_nothing_configured_it_runs_the_farm_in_process_and_an_embedded_redis() -> None:
    result = run("--count", "200", "--json")
    assert result.returncode == 0, result.stderr
    assert "embedded in-memory Redis" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["redis"].startswith("embedded")
    assert summary["read"] == 200 and summary["reconciled"] is True
    assert summary["main_stream_added"] + summary["dlq_added"] == 200
    assert summary["repaired"] > 0 and summary["malformed"] > 0
    assert summary["farm_url"].startswith("http://127.0.0.1:")


def test_a_bad_flag_exits_2_with_one_line() -> None:
    result = run("--batch-size", "zero")
    assert result.returncode == 2
    assert_one_line_error(result, "--batch-size")


def test_an_unreachable_farm_is_one_line_and_exit_1() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = run("--farm-url", url, "--count", "10")
    assert result.returncode == 1
    assert_one_line_error(result, "farm unreachable", url)


def test_an_unreachable_redis_is_one_line_and_exit_1() -> None:
    url = f"redis://:secret-pw@127.0.0.1:{closed_port()}/0"
    result = run("--redis-url", url, "--farm-url", "http://127.0.0.1:9", "--count", "10")
    assert result.returncode == 1
    assert_one_line_error(result, "Redis unreachable")
    assert "secret-pw" not in result.stderr


def test_an_unreachable_redis_from_the_environment_is_reported_too() -> None:
    result = run("--count", "10", env={"REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"})
    assert result.returncode == 1
    assert_one_line_error(result, "Redis unreachable")
