"""SQS- and Kinesis-shaped Lambda events built from farm stream records, with deterministic ids."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

EventSource = Literal["sqs", "kinesis"]

REGION = "us-east-1"
ACCOUNT = "000000000000"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:aos-toxic-stream"
KINESIS_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/aos-toxic-stream"
SHARD_ID = "shardId-000000000000"
_MAX_SEQUENCE = 16**12
UNGROUPED = "ungrouped"
"""FIFO message group of a record without a usable group field."""


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One record of the farm's toxic stream: its position and its raw text."""

    sequence: int
    data: str

    def raw(self) -> bytes:
        """The record's bytes as a trigger would carry them (lone surrogates kept, not fixed)."""
        return self.data.encode("utf-8", "surrogatepass")


def _run_digest(seed: int, chaos: bool) -> str:
    return hashlib.sha256(f"aos-runner:{seed}:{int(chaos)}".encode()).hexdigest()


def record_id(seed: int, chaos: bool, sequence: int) -> str:
    """The identity of the stream record at `sequence`, the same in every event shape.

    A decimal string shaped like a Kinesis sequence number (`49`, 18 digits of the run's
    digest, the chaos digit, the position on 20 digits): it is the Kinesis
    `sequenceNumber` and the SQS `messageId` alike, so the sidecar's idempotency marker
    for a record is the same whichever shape delivered it.
    """
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if not 0 <= sequence < _MAX_SEQUENCE:
        raise ValueError(f"sequence {sequence} out of range")
    digest = _run_digest(seed, chaos)
    return f"49{int(digest[20:40], 16) % 10**18:018d}{int(chaos)}{sequence:020d}"


class EventFactory:
    """Builds trigger events whose item ids depend only on (seed, chaos, sequence).

    The id does not depend on the event shape: a record delivered as SQS and later as
    Kinesis (or the reverse) carries the same id, so a restarted or replayed run, in
    either shape, delivers ids the sidecar has seen and its idempotency keeps the
    record out of the streams.
    """

    def __init__(
        self,
        source: EventSource,
        *,
        seed: int,
        chaos: bool,
        fifo_group_field: str | None = None,
    ) -> None:
        if source not in ("sqs", "kinesis"):
            raise ValueError(f"unknown event source {source!r}")
        if fifo_group_field is not None and source != "sqs":
            raise ValueError("FIFO delivery is an SQS queue's: use the sqs event source")
        self._fifo_group_field = fifo_group_field
        if seed < 0:
            raise ValueError("seed must be >= 0")
        self.source: EventSource = source
        self._prefix = record_id(seed, chaos, 0)[:-20]

    def item_id(self, sequence: int) -> str:
        """The trigger's id for the record at `sequence` (messageId or sequenceNumber)."""
        if not 0 <= sequence < _MAX_SEQUENCE:
            raise ValueError(f"sequence {sequence} out of range")
        return f"{self._prefix}{sequence:020d}"

    def build(
        self, records: Sequence[StreamRecord], *, attempt: int, now_ms: int
    ) -> dict[str, Any]:
        """An event carrying `records`; `attempt` is the delivery number (1 = first)."""
        if self.source == "sqs":
            return self._sqs(records, attempt=attempt, now_ms=now_ms)
        return self._kinesis(records, now_ms=now_ms)

    def _sqs(self, records: Sequence[StreamRecord], *, attempt: int, now_ms: int) -> dict[str, Any]:
        return {
            "Records": [
                sqs_record(
                    self.item_id(record.sequence),
                    record.data,
                    receive_count=attempt,
                    sent_ms=now_ms,
                    fifo_group=self._group(record),
                    fifo_sequence=record.sequence,
                )
                for record in records
            ]
        }

    def _group(self, record: StreamRecord) -> str | None:
        """The record's FIFO message group: its group field's value; records that are not a
        JSON object or lack the field share one group, `ungrouped` (SQS needs a group)."""
        field = self._fifo_group_field
        if field is None:
            return None
        try:
            body = json.loads(record.data)
        except ValueError:
            return UNGROUPED
        value = body.get(field) if isinstance(body, dict) else None
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)[:128]
        return UNGROUPED

    def _kinesis(self, records: Sequence[StreamRecord], *, now_ms: int) -> dict[str, Any]:
        arrival = now_ms / 1000
        items = []
        for record in records:
            sequence_number = self.item_id(record.sequence)
            items.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": f"partition-{record.sequence % 16}",
                        "sequenceNumber": sequence_number,
                        "data": base64.b64encode(record.raw()).decode("ascii"),
                        "approximateArrivalTimestamp": arrival,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{SHARD_ID}:{sequence_number}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/aos-sidecar-local",
                    "awsRegion": REGION,
                    "eventSourceARN": KINESIS_ARN,
                }
            )
        return {"Records": items}


def sqs_record(
    message_id: str,
    body: str,
    *,
    receive_count: int = 1,
    sent_ms: int = 0,
    fifo_group: str | None = None,
    fifo_sequence: int = 0,
) -> dict[str, Any]:
    """One `Records[]` entry of an SQS event as Lambda builds it for a message; with
    `fifo_group`, as a FIFO queue delivers it (MessageGroupId, SequenceNumber,
    MessageDeduplicationId)."""
    sent = str(sent_ms)
    fifo = (
        {}
        if fifo_group is None
        else {
            "MessageGroupId": fifo_group,
            "SequenceNumber": f"{fifo_sequence:020d}",
            "MessageDeduplicationId": message_id,
        }
    )
    return {
        "messageId": message_id,
        "receiptHandle": f"local-{message_id}-{receive_count}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": sent,
            "SenderId": ACCOUNT,
            "ApproximateFirstReceiveTimestamp": sent,
            **fifo,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(
            body.encode("utf-8", "surrogatepass"), usedforsecurity=False
        ).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }
