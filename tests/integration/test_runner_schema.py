"""`--schema FILE`: the runner's sidecar checks records against the given schema file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.farm_server import FarmServer
from tests.integration.test_runner_e2e import run, runner_args, summary_of

pytestmark = pytest.mark.integration


def test_records_are_checked_against_the_schema_file(
    farm: FarmServer, redis_url: str, keyspace: Any, tmp_path: Path
) -> None:
    schema = tmp_path / "paid.json"
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {
                    "invoice_id": {"type": "string", "pattern": "^INV-[0-9]+$"},
                    "status": {"type": "string", "enum": ["SUBMITTED", "APPROVED", "PAID"]},
                    "total_amount": {"type": "number", "minimum": 0},
                },
                "required": ["invoice_id", "status", "total_amount"],
            }
        )
    )
    page = httpx.get(f"{farm.url}/api/stream", params={"chaos": "false", "limit": 200}).json()
    off_enum = sum(json.loads(r["data"])["status"] in {"DRAFT", "VOID"} for r in page["records"])
    assert off_enum > 0

    result = run(
        runner_args(
            farm.url, redis_url, keyspace, "--no-chaos", "--count", "200",
            "--schema", str(schema),
        )
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    s = summary_of(result.stdout)
    assert s["unrepairable"] == off_enum
    assert s["clean"] == 200 - off_enum


def test_an_unsupported_schema_is_one_line_naming_the_keyword(
    farm: FarmServer, redis_url: str, keyspace: Any, tmp_path: Path
) -> None:
    schema = tmp_path / "nested.json"
    schema.write_text(
        json.dumps({"fields": {"billing_address": {"type": "object", "properties": {}}}})
    )
    result = run(runner_args(farm.url, redis_url, keyspace, "--schema", str(schema)))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "unsupported keyword(s) properties" in result.stderr
    assert "Traceback" not in result.stderr
