"""Read a real SQS queue the way Lambda's event source mapping does and feed the sidecar."""

from __future__ import annotations

import base64
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from local.batch_response import failed_item_ids
from local.lambda_context import LambdaContext

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_RECEIVE = 10
MAX_WAIT_SECONDS = 20
DEFAULT_FUNCTION_TIMEOUT_MS = 60_000


class BatchReportLike(Protocol):
    """What the sidecar's `handle_batch` returns: per-outcome counts and Lambda's response."""

    @property
    def counts(self) -> Mapping[str, int]:
        """Records per outcome in the batch."""
        ...

    def lambda_response(self) -> Mapping[str, Any]:
        """`{"batchItemFailures": [{"itemIdentifier": ...}, ...]}`."""
        ...


class BatchHandler(Protocol):
    """The sidecar seen from an event source: one call per batch."""

    def handle_batch(self, event: dict[str, Any], context: Any) -> BatchReportLike:
        """Process one trigger event."""
        ...


def _lambda_message_attributes(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    converted: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        item: dict[str, Any] = {
            "stringListValues": list(value.get("StringListValues", [])),
            "binaryListValues": [
                base64.b64encode(b).decode("ascii") for b in value.get("BinaryListValues", [])
            ],
            "dataType": value["DataType"],
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        converted[name] = item
    return converted


def region_of(arn: str) -> str:
    """The region field of an ARN (`arn:partition:service:region:account:resource`)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[3]


def lambda_sqs_record(message: Mapping[str, Any], *, queue_arn: str) -> dict[str, Any]:
    """One `Records[]` entry exactly as Lambda builds it from a ReceiveMessage message."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": _lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region_of(queue_arn),
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def lambda_sqs_event(messages: Sequence[Mapping[str, Any]], *, queue_arn: str) -> dict[str, Any]:
    """The SQS event Lambda would pass for `messages` received from the queue `queue_arn`."""
    return {"Records": [lambda_sqs_record(m, queue_arn=queue_arn) for m in messages]}


def _receive(
    client: Any,
    queue_url: str,
    *,
    batch_size: int,
    wait_seconds: int,
    visibility_timeout: int | None,
) -> list[dict[str, Any]]:
    """Up to `batch_size` distinct messages, gathered over as many receives as it takes."""
    by_id: dict[str, dict[str, Any]] = {}
    for call in range(math.ceil(batch_size / MAX_MESSAGES_PER_RECEIVE)):
        request: dict[str, Any] = {
            "QueueUrl": queue_url,
            "MaxNumberOfMessages": min(MAX_MESSAGES_PER_RECEIVE, batch_size - len(by_id)),
            "WaitTimeSeconds": wait_seconds if call == 0 else 0,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout is not None:
            request["VisibilityTimeout"] = visibility_timeout
        messages = client.receive_message(**request).get("Messages", [])
        if not messages:
            break
        for message in messages:
            by_id[message["MessageId"]] = message
        if len(by_id) >= batch_size:
            break
    return list(by_id.values())


def _delete(client: Any, queue_url: str, messages: Sequence[Mapping[str, Any]]) -> int:
    """Delete `messages` in batches of ten; returns how many SQS confirmed."""
    deleted = 0
    for start in range(0, len(messages), MAX_MESSAGES_PER_RECEIVE):
        chunk = messages[start : start + MAX_MESSAGES_PER_RECEIVE]
        response = client.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
            ],
        )
        deleted += len(response.get("Successful", []))
        for failure in response.get("Failed", []):
            log.warning(
                "could not delete message %s: %s",
                chunk[int(failure["Id"])]["MessageId"],
                failure.get("Message", failure.get("Code", "unknown error")),
            )
    return deleted


def run_sqs_source(
    queue_url: str,
    sidecar: BatchHandler,
    *,
    batch_size: int = 10,
    max_batches: int | None = None,
    wait_seconds: int = 1,
    sqs_client: Any = None,
    visibility_timeout: int | None = None,
    stop_when_empty: bool = True,
) -> dict[str, int]:
    """Poll `queue_url`, invoke `sidecar.handle_batch` per batch, delete what succeeded.

    Each batch is built like Lambda's SQS event. Messages the sidecar lists in
    `batchItemFailures` (or the whole batch when it raises or answers invalidly) are
    not deleted: they become visible again after the visibility timeout, and the
    queue's redrive policy moves them to its dead-letter queue after `maxReceiveCount`.

    Stops after `max_batches` invocations, or (with `stop_when_empty`) at the first
    receive that finds the queue empty. Returns the sum of the batches' `counts` plus
    `batches`, `received`, `deleted`, `failed` (messages left for redelivery) and
    `errors` (invocations that raised).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
        raise ValueError(f"wait_seconds must be 0..{MAX_WAIT_SECONDS} (SQS long polling)")
    if sqs_client is None:
        import boto3

        sqs_client = boto3.client("sqs")
    queue_arn = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    totals: Counter[str] = Counter()
    left_on_queue = 0
    for key in ("batches", "received", "deleted", "errors"):
        totals[key] = 0
    while max_batches is None or totals["batches"] < max_batches:
        messages = _receive(
            sqs_client,
            queue_url,
            batch_size=batch_size,
            wait_seconds=wait_seconds,
            visibility_timeout=visibility_timeout,
        )
        if not messages:
            if stop_when_empty:
                break
            continue
        totals["batches"] += 1
        totals["received"] += len(messages)
        event = lambda_sqs_event(messages, queue_arn=queue_arn)
        ids = [m["MessageId"] for m in messages]
        context = LambdaContext(timeout_ms=DEFAULT_FUNCTION_TIMEOUT_MS)
        try:
            report = sidecar.handle_batch(event, context)
            failed = failed_item_ids(report.lambda_response(), ids)
            totals.update(report.counts)
        except Exception:
            log.exception("the batch of %d messages failed as a whole", len(messages))
            totals["errors"] += 1
            failed = set(ids)
        left_on_queue += len(failed)
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        totals["deleted"] += _delete(sqs_client, queue_url, succeeded)
    totals["failed"] = left_on_queue
    return dict(totals)
