"""`--source sqs://QUEUE_URL`: the runner consumes a queue (moto) with the real sidecar."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from local.cli import main
from local.farm_server import FarmServer

pytestmark = pytest.mark.integration


@pytest.fixture
def aws(sqs: Any, monkeypatch: pytest.MonkeyPatch, keyspace: Any) -> Any:
    """Moto's SQS, and an environment the runner may change without leaking out of the test."""
    for name, value in {
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
        **keyspace.env(),
    }.items():
        monkeypatch.setenv(name, value)
    return sqs


def test_the_runner_drains_a_queue_through_the_sidecar(
    aws: Any,
    farm: FarmServer,
    redis_url: str,
    redis_client: redis.Redis,
    keyspace: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queue_url = aws.create_queue(QueueName=f"q-{keyspace.source_id}")["QueueUrl"]
    bodies = [
        '{"invoice_id": "INV-1", "vendor_id": "V-1", "total_amount": 1.5, "status": "PAID"}',
        '{"invoice_id": "INV-2", "total_amount": 2, "status": "PAID"}',
        "not json at all",
    ]
    for body in bodies:
        aws.send_message(QueueUrl=queue_url, MessageBody=body)

    argv = ["--source", f"sqs://{queue_url}", "--farm-url", farm.url, "--redis-url", redis_url]
    assert main([*argv, "--json"]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert counts["received"] == 3 and counts["deleted"] == 3
    assert (counts["clean"], counts["repaired"], counts["malformed"]) == (1, 1, 1)
    assert redis_client.xlen(keyspace.stream) == 2
    assert redis_client.xlen(keyspace.dlq_stream) == 1


def test_a_queue_that_does_not_exist_is_one_line_and_exit_1(
    aws: Any, farm: FarmServer, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"
    argv = ["--source", f"sqs://{queue_url}", "--farm-url", farm.url, "--redis-url", redis_url]
    assert main(argv) == 1
    err = capsys.readouterr().err
    [line] = err.strip().splitlines()
    assert "SQS source" in line and "failed" in line
    assert "Traceback" not in err


def test_the_printed_queue_url_hides_its_credentials(
    aws: Any,
    farm: FarmServer,
    redis_url: str,
    keyspace: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queue_url = aws.create_queue(QueueName=f"q-{keyspace.source_id}")["QueueUrl"]
    aws.send_message(QueueUrl=queue_url, MessageBody="not json")
    secret_url = queue_url.replace("://", "://operator:hunter2@", 1)
    argv = ["--source", f"sqs://{secret_url}", "--farm-url", farm.url, "--redis-url", redis_url]
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err
    assert code == 0, captured.err
