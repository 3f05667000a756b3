"""`--source sqs://QUEUE_URL`: the runner consumes a queue (moto's SQS server) with the sidecar."""

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

from local.farm_server import FarmServer, start_farm

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).resolve().parents[2] / "local" / "run_sidecar.py"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def sqs_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def farm() -> Iterator[FarmServer]:
    with start_farm() as server:
        yield server


def test_the_runner_drains_a_queue_through_the_sidecar(
    sqs_endpoint: str, farm: FarmServer, redis_url: str, redis_client: redis.Redis, keyspace: Any
) -> None:
    sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, **_boto_credentials())
    queue_url = sqs.create_queue(QueueName=f"q-{keyspace.source_id}")["QueueUrl"]
    bodies = [
        '{"invoice_id": "INV-1", "vendor_id": "V-1", "total_amount": 1.5, "status": "PAID"}',
        '{"invoice_id": "INV-2", "total_amount": 2, "status": "PAID"}',
        "not json at all",
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    env = {**os.environ, **AWS_ENV, **keyspace.env(), "AWS_ENDPOINT_URL": sqs_endpoint}
    args = [
        sys.executable, str(RUNNER), "--source", f"sqs://{queue_url}", "--farm-url", farm.url,
        "--redis-url", redis_url, "--json",
    ]  # fmt: skip
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["received"] == 3 and counts["deleted"] == 3
    assert (counts["clean"], counts["repaired"], counts["malformed"]) == (1, 1, 1)
    assert redis_client.xlen(keyspace.stream) == 2
    assert redis_client.xlen(keyspace.dlq_stream) == 1


def _boto_credentials() -> dict[str, Any]:
    return {
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    }


def test_a_queue_that_does_not_exist_is_one_line_and_exit_1(
    sqs_endpoint: str, farm: FarmServer, redis_url: str, keyspace: Any
) -> None:
    env = {**os.environ, **AWS_ENV, **keyspace.env(), "AWS_ENDPOINT_URL": sqs_endpoint}
    queue_url = f"{sqs_endpoint}/123456789012/no-such-queue"
    args = [
        sys.executable, str(RUNNER), "--source", f"sqs://{queue_url}", "--farm-url", farm.url,
        "--redis-url", redis_url,
    ]  # fmt: skip
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "SQS source" in line and "failed" in line
