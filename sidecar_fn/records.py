"""Lambda event parsing: SQS and Kinesis records into items of id and raw bytes."""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import Mapping
from typing import Any, NamedTuple

from sidecar_fn.errors import InvalidEvent


class Item(NamedTuple):
    """One record of a batch: the trigger's id and the record's bytes as delivered.

    `problem` says why the bytes could not even be read (e.g. invalid base64); such an
    item is malformed and `raw` then holds the undecodable text as it came.
    """

    item_id: str
    raw: bytes
    problem: str | None = None


def _sqs_item(record: Mapping[str, Any]) -> Item:
    item_id = record.get("messageId")
    if not isinstance(item_id, str) or not item_id:
        raise InvalidEvent("SQS record without a messageId")
    body = record.get("body")
    if not isinstance(body, str):
        return Item(item_id, b"", "SQS record has no text body")
    return Item(item_id, body.encode("utf-8", "surrogatepass"))


def _kinesis_item(record: Mapping[str, Any]) -> Item:
    kinesis = record["kinesis"]
    item_id = kinesis.get("sequenceNumber") if isinstance(kinesis, Mapping) else None
    if not isinstance(item_id, str) or not item_id:
        raise InvalidEvent("Kinesis record without a sequenceNumber")
    data = kinesis.get("data")
    if not isinstance(data, str):
        return Item(item_id, b"", "Kinesis record has no data")
    try:
        return Item(item_id, b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return Item(item_id, data.encode("utf-8", "surrogatepass"), "Kinesis data is not base64")


def parse_event(event: Any) -> list[Item]:
    """The items of an SQS or Kinesis event, in delivery order.

    Raises InvalidEvent when the event is not a batch of records or a record has no id
    (such a record could not be reported in batchItemFailures).
    """
    if not isinstance(event, Mapping):
        raise InvalidEvent("event is not a JSON object")
    records = event.get("Records")
    if not isinstance(records, list):
        raise InvalidEvent("event has no Records list")
    items: list[Item] = []
    append = items.append
    for record in records:
        if type(record) is dict and "kinesis" not in record:
            item_id = record.get("messageId")
            body = record.get("body")
            if type(item_id) is str and item_id and type(body) is str:
                append(Item(item_id, body.encode("utf-8", "surrogatepass")))
                continue
        if not isinstance(record, Mapping):
            raise InvalidEvent("event record is not an object")
        append(_kinesis_item(record) if "kinesis" in record else _sqs_item(record))
    return items
