"""SQS- and Kinesis-shaped events with distinct ids, and a Lambda context stand-in."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping, Sequence
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


Truth = Callable[[str], Mapping[str, Any] | None]


def _known(truth: Truth, number: int) -> dict[str, Any]:
    record = truth(f"INV-{number}")
    assert record is not None, f"INV-{number} is unknown to the source of truth"
    return dict(record)


def clean(number: int, truth: Truth = pristine_invoice) -> bytes:
    """A complete record equal to the source of truth."""
    return dumps(_known(truth, number))


def drifted(
    number: int, *fields: str, null: bool = False, truth: Truth = pristine_invoice
) -> bytes:
    """A known invoice with `fields` (default vendor_id) missing, or null when `null`."""
    record = _known(truth, number)
    for name in fields or ("vendor_id",):
        if null:
            record[name] = None
        else:
            del record[name]
    return dumps(record)


UNKNOWN_NUMBER = 999_999_999_999


def mixed_items(
    prefix: str, count: int, start: int = 1, truth: Truth = pristine_invoice
) -> list[Item]:
    """`count` items cycling clean, drifted (several kinds), malformed and unrepairable.

    Item numbers run from `start`; every one must be known to `truth`, and
    `INV-999999999999` must not be.
    """
    template = _known(truth, start)
    unknown = {**template, "invoice_id": f"INV-{UNKNOWN_NUMBER}"}
    del unknown["vendor_id"]
    no_id = {k: v for k, v in template.items() if k not in ("invoice_id", "vendor_id")}
    kinds: list[Callable[[int], bytes]] = [
        lambda n: clean(n, truth),
        lambda n: drifted(n, truth=truth),
        lambda n: clean(n, truth),
        lambda n: drifted(n, "vendor_id", "status", null=True, truth=truth),
        lambda n: b'{"invoice_id": "INV-' + str(n).encode() + b'", "vendor_',
        lambda n: clean(n, truth),
        lambda n: drifted(n, "billing_address", "total_amount", truth=truth),
        lambda n: dumps(unknown),
        lambda n: b"[1, 2, 3]",
        lambda n: dumps(no_id),
    ]
    return [
        (f"{prefix}-{index:06d}", kinds[index % len(kinds)](start + index))
        for index in range(count)
    ]
