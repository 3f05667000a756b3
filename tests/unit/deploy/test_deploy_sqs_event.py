"""The SQS source builds Lambda's SQS event and applies Lambda's partial-batch rules."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from local.sqs_source import (
    lambda_sqs_event,
    lambda_sqs_record,
    region_of,
    run_sqs_source,
)

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:aos-ingest"

# The record keys of Lambda's documented SQS event (plus md5OfMessageAttributes when set).
LAMBDA_SQS_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}


def _message(**overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "MD5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "Body": '{"invoice_id": "INV-102"}',
        "Attributes": {
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
    }
    message.update(overrides)
    return message


def test_record_has_lambda_shape_and_values() -> None:
    record = lambda_sqs_record(_message(), queue_arn=QUEUE_ARN)

    assert set(record) == LAMBDA_SQS_RECORD_KEYS
    assert record["messageId"] == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert record["receiptHandle"] == "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a"
    assert record["body"] == '{"invoice_id": "INV-102"}'
    assert record["md5OfBody"] == "e4e68fb7bd0e697a0ae8f1bb342846b3"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["attributes"]["SenderId"] == "AIDAIENQZJOLO23YVJ4VO"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == QUEUE_ARN
    assert record["awsRegion"] == "eu-west-1"
    assert record["messageAttributes"] == {}


def test_message_attributes_use_lambda_casing_and_base64_binaries() -> None:
    message = _message(
        MessageAttributes={
            "aos_sequence": {"StringValue": "41", "DataType": "Number"},
            "blob": {"BinaryValue": b"\x00\xff", "DataType": "Binary"},
        },
        MD5OfMessageAttributes="d41d8cd98f00b204e9800998ecf8427e",
    )

    record = lambda_sqs_record(message, queue_arn=QUEUE_ARN)

    assert record["messageAttributes"] == {
        "aos_sequence": {
            "stringValue": "41",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\xff").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert record["md5OfMessageAttributes"] == "d41d8cd98f00b204e9800998ecf8427e"


def test_event_keeps_message_order() -> None:
    messages = [_message(MessageId=f"id-{i}", Body=str(i)) for i in range(3)]

    event = lambda_sqs_event(messages, queue_arn=QUEUE_ARN)

    assert [r["messageId"] for r in event["Records"]] == ["id-0", "id-1", "id-2"]
    assert [r["body"] for r in event["Records"]] == ["0", "1", "2"]


def test_region_of_rejects_non_arns() -> None:
    assert region_of("arn:aws-cn:sqs:cn-north-1:123456789012:q") == "cn-north-1"
    with pytest.raises(ValueError, match="not an ARN"):
        region_of("https://sqs.us-east-1.amazonaws.com/123456789012/q")


@pytest.mark.parametrize(("batch_size", "wait_seconds"), [(0, 1), (10, -1), (10, 21)])
def test_run_refuses_settings_sqs_would_refuse(batch_size: int, wait_seconds: int) -> None:
    with pytest.raises(ValueError):
        run_sqs_source(
            "https://sqs.us-east-1.amazonaws.com/123456789012/q",
            None,  # type: ignore[arg-type]
            batch_size=batch_size,
            wait_seconds=wait_seconds,
            sqs_client=object(),
        )
