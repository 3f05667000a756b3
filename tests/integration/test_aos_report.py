"""`aos report` against a real Redis: what the sidecar counted, as JSON, text and HTML."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import redis

from aos.cli import main
from sidecar_fn.settings import Settings
from sidecar_fn.telemetry import NullMetrics
from sidecar_fn.wiring import build_sidecar
from tests.conftest import KeySpace
from tests.integration.aos_command import run_aos
from tests.unit.sidecar.fakes import CapturedLogger, FakeSource, pristine

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def fill(redis_url: str, keyspace: KeySpace) -> None:
    settings = Settings.from_env({**keyspace.env(), "REDIS_URL": redis_url})
    client = redis.Redis.from_url(redis_url)
    sidecar = build_sidecar(
        settings,
        redis_client=client,
        source=FakeSource(),
        metrics=NullMetrics(),
        logger=CapturedLogger().logger,
    )
    drifted = {**pristine("INV-2"), "vendor_id": None}
    bodies = [pristine("INV-1"), drifted, {**pristine("INV-3"), "vendorId": "V"}, "not json"]
    event = {
        "Records": [
            {"messageId": f"r{n}", "body": b if isinstance(b, str) else orjson.dumps(b).decode()}
            for n, b in enumerate(bodies)
        ]
    }
    sidecar.handle_batch(event)
    client.close()


def test_report_json_counts_what_the_sidecar_wrote(
    redis_url: str,
    keyspace: KeySpace,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    fill(redis_url, keyspace)
    monkeypatch.delenv("REDIS_URL", raising=False)
    page = tmp_path / "report.html"
    code = main(
        [
            "report",
            "--redis-url",
            redis_url,
            "--source-id",
            keyspace.source_id,
            "--hours",
            "2",
            "--json",
            "--html",
            str(page),
        ]
    )
    assert code == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert total["records"] == 4
    assert total["outcomes"]["clean"] == 2 and total["outcomes"]["repaired"] == 1
    assert total["dead_letters"] == {"malformed": 1}
    assert total["drift_rate"] == {"vendor_id": 0.25}
    assert total["unexpected"] == {"vendorId": 1}
    text = page.read_text()
    assert text.count("<svg") == 2 and "http://" not in text.split("<svg", 1)[0]


def test_the_console_script_prints_a_table_and_reports_errors_in_one_line(
    redis_url: str, keyspace: KeySpace
) -> None:
    fill(redis_url, keyspace)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "REDIS_URL": redis_url,
        "AOS_SOURCE_ID": keyspace.source_id,
    }
    done = run_aos("report", "--hours", "1", env=env)
    assert done.returncode == 0, done.stderr
    assert f"source {keyspace.source_id}" in done.stdout
    assert done.stdout.splitlines()[-4].startswith("total")
    assert done.stdout.splitlines()[-1].startswith("drift kinds (fields): ")

    bad = run_aos("report", "--redis-url", "redis://127.0.0.1:1/0", env=env)
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "cannot reach Redis" in bad.stderr
    usage = run_aos("report", "--hours", "0", env=env)
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1


def test_aos_run_is_the_local_runner() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    done = run_aos("run", "--help", env=env)
    assert done.returncode == 0, done.stderr
    assert "--max-attempts" in done.stdout and "--farm-url" in done.stdout
    bad = run_aos("run", "--count", "0", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
