"""SQS- and Kinesis-shaped events with distinct ids, and a Lambda context stand-in."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .evil_sot import pristine_invoice

Item = tuple[str, bytes]


def sqs_event(items: Sequence[Item]) -> dict[str, Any]:
    """An SQS event whose records carry the items' ids and (UTF-8) bodies."""
    return {
        "Records": [
            {
                "messageId": item_id,
                "receiptHandle": f"handle-{item_id}",
                "body": raw.decode("utf-8"),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:aos-invoices",
                "awsRegion": "eu-central-1",
            }
            for item_id, raw in items
        ]
    }


def kinesis_event(items: Sequence[Item]) -> dict[str, Any]:
    """A Kinesis event whose records carry the items' ids as sequence numbers, data in base64."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "invoices",
                    "sequenceNumber": item_id,
                    "data": base64.b64encode(raw).decode("ascii"),
                    "approximateArrivalTimestamp": 1764000000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{item_id}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "eu-central-1",
                "eventSourceARN": "arn:aws:kinesis:eu-central-1:123456789012:stream/aos",
            }
            for item_id, raw in items
        ]
    }


@dataclass
class LambdaContext:
    """The parts of the Lambda context object a handler reads."""

    budget_ms: int = 30_000
    function_name: str = "aos-sidecar"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "req-reliability"
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:123456789012:function:aos-sidecar"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left of the budget since this context was made."""
        return max(0, int(self.budget_ms - (time.monotonic() - self._started) * 1000))


def dumps(record: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(record, separators=(",", ":")).encode()


def clean(number: int) -> bytes:
    """A complete record equal to the source of truth."""
    record = pristine_invoice(f"INV-{number}")
    assert record is not None
    return dumps(record)


def drifted(number: int, *fields: str, null: bool = False) -> bytes:
    """A known invoice with `fields` (default vendor_id) missing, or null when `null`."""
    record = pristine_invoice(f"INV-{number}")
    assert record is not None
    for name in fields or ("vendor_id",):
        if null:
            record[name] = None
        else:
            del record[name]
    return dumps(record)


def unknown_drifted(number: int) -> bytes:
    """A drifted record whose invoice the source of truth does not know."""
    record = pristine_invoice("INV-1")
    assert record is not None
    record["invoice_id"] = f"INV-{number}"
    del record["vendor_id"]
    return dumps(record)


def mixed_items(prefix: str, count: int, start: int = 1) -> list[Item]:
    """`count` items cycling clean, drifted (several kinds), malformed and unrepairable."""
    kinds = [
        lambda n: clean(n),
        lambda n: drifted(n),
        lambda n: clean(n),
        lambda n: drifted(n, "vendor_id", "status", null=True),
        lambda n: b'{"invoice_id": "INV-' + str(n).encode() + b'", "vendor_',
        lambda n: clean(n),
        lambda n: drifted(n, "billing_address", "total_amount"),
        lambda n: unknown_drifted(5_000_000_000 + n),
        lambda n: b"[1, 2, 3]",
        lambda n: dumps(
            {
                k: v
                for k, v in (pristine_invoice("INV-7") or {}).items()
                if k != "invoice_id" and k != "vendor_id"
            }
        ),
    ]
    return [
        (f"{prefix}-{index:06d}", kinds[index % len(kinds)](start + index))
        for index in range(count)
    ]
