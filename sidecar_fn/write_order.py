"""Which batches must reach the streams in delivery order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def unordered(event: Mapping[str, Any]) -> bool:
    """True for a standard SQS batch, which carries no order to keep: its records that need
    no repair may be written while the source of truth is asked. Kinesis records (ordered
    per shard) and SQS FIFO records (`attributes.MessageGroupId`) keep delivery order."""
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        return False
    for record in records:
        if type(record) is not dict and not isinstance(record, Mapping):
            return False
        if record.get("eventSource") != "aws:sqs":
            return False
        attributes = record.get("attributes")
        # `type(...) is dict` first: the ABC check of isinstance costs several times as much.
        if (
            attributes
            and (type(attributes) is dict or isinstance(attributes, Mapping))
            and "MessageGroupId" in attributes
        ):
            return False
    return True
