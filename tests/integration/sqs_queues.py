"""SQS queues on moto for the integration tests: the template's queue pair and a drain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
MOTO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass
class Queues:
    """An ingest queue and the dead-letter queue it redrives to."""

    url: str
    arn: str
    dlq_url: str


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def make_queues(sqs: Any, *, visibility_timeout: int, max_receive_count: int = 3) -> Queues:
    """An ingest queue redriving to a dead-letter queue, like template.yaml's pair."""
    dlq_url = sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"]
    redrive = {
        "deadLetterTargetArn": _queue_arn(sqs, dlq_url),
        "maxReceiveCount": str(max_receive_count),
    }
    url = sqs.create_queue(
        QueueName="ingest",
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    return Queues(url, _queue_arn(sqs, url), dlq_url)


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message visible on `url` now, with its attributes (receives until one is empty)."""
    seen: dict[str, dict[str, Any]] = {}
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=600,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return list(seen.values())
        seen.update({m["MessageId"]: m for m in messages})
