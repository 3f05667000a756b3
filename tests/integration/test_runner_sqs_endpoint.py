"""`--source sqs://http://HOST:PORT/...` reaches that host, with no AWS endpoint or region
in the environment: a real SQS emulator (moto's server) over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from moto.server import ThreadedMotoServer

from local.farm_server import FarmServer

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).resolve().parents[2] / "local" / "run_sidecar.py"
PORT = int(os.environ.get("TEST_SQS_EMULATOR_PORT", "7151"))
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
AWS_SETTINGS = (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_DEFAULT_REGION", "AWS_REGION",
    "AWS_PROFILE", "AWS_SESSION_TOKEN",
)  # fmt: skip


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=PORT)
    server.start()
    try:
        yield f"http://127.0.0.1:{PORT}"
    finally:
        server.stop()


def _queue(endpoint: str, name: str, bodies: list[str]) -> str:
    client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", **_keys())
    url = str(client.create_queue(QueueName=name)["QueueUrl"])
    for body in bodies:
        client.send_message(QueueUrl=url, MessageBody=body)
    return url


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _env(tmp_path: Path, keyspace: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in AWS_SETTINGS}
    env.update(CREDENTIALS)
    env["AWS_CONFIG_FILE"] = str(tmp_path / "no-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-credentials")
    env.update(keyspace.env())
    env.update(extra)
    return env


BODIES = [
    '{"invoice_id": "INV-1", "vendor_id": "V-1", "total_amount": 1.5, "status": "PAID"}',
    '{"invoice_id": "INV-2", "total_amount": 2, "status": "PAID"}',
    "not json at all",
]


def _run(source: str, farm: FarmServer, redis_url: str, env: dict[str, str]) -> Any:
    args = [sys.executable, str(RUNNER), "--source", source, "--farm-url", farm.url]
    args += ["--redis-url", redis_url, "--json"]
    return subprocess.run(
        args, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
    )


def test_the_queue_url_names_the_endpoint_and_the_region(
    emulator: str,
    farm: FarmServer,
    redis_url: str,
    redis_client: redis.Redis,
    keyspace: Any,
    tmp_path: Path,
) -> None:
    url = _queue(emulator, f"q-{keyspace.source_id}", BODIES)
    assert url.startswith(emulator)
    result = _run(f"sqs://{url}", farm, redis_url, _env(tmp_path, keyspace))
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["received"] == 3 and counts["deleted"] == 3
    assert redis_client.xlen(keyspace.stream) == 2
    assert redis_client.xlen(keyspace.dlq_stream) == 1


def test_an_explicit_endpoint_in_the_environment_wins(
    emulator: str, farm: FarmServer, redis_url: str, keyspace: Any, tmp_path: Path
) -> None:
    url = _queue(emulator, f"r-{keyspace.source_id}", BODIES[:1])
    elsewhere = url.replace(emulator, "http://127.0.0.1:9")
    env = _env(tmp_path, keyspace, AWS_ENDPOINT_URL=emulator, AWS_DEFAULT_REGION="us-east-1")
    result = _run(f"sqs://{elsewhere}", farm, redis_url, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["received"] == 1
