"""Business-key idempotency: a record version's key from the fields named in AOS_DEDUPE_KEY.

Idempotency is keyed on the delivery id (SQS messageId, Kinesis sequenceNumber) unless
AOS_DEDUPE_KEY names record fields (e.g. `invoice_id,last_modified`): then a record whose
fields are all present, as received, is keyed on those values instead, so a producer that
sends the same version twice under two message ids gets one entry and one duplicate. The
values are read from the record as delivered, never from its repair, so a redelivery, a
probe and the write of one record always agree on its key. A record without one of the
fields (or whose value is null, an object or an array), and a malformed record, falls back
to its delivery id. The key hashes the field names with the values (JSON, so 1 and "1" are
two versions) into 128 bits: short markers whatever the values' length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from sidecar_fn.ports import SinkEntry

VERSION_PREFIX = "ver:"
"""Idempotency ids made from a record version start with this (delivery ids never do)."""


def parse_dedupe_fields(raw: str) -> tuple[str, ...]:
    """`invoice_id, last_modified` -> ("invoice_id", "last_modified"); raises ValueError
    on an empty or repeated name."""
    fields = tuple(part.strip() for part in raw.split(","))
    if not all(fields):
        raise ValueError("must be a comma-separated list of record field names")
    if len(set(fields)) != len(fields):
        raise ValueError("names a field twice")
    return fields


def version_id(record: Mapping[str, Any], fields: tuple[str, ...]) -> str | None:
    """The idempotency id of `record`'s version, or None when a field is missing or not a
    scalar (the record then falls back to its delivery id)."""
    values = []
    for name in fields:
        value = record.get(name)
        if value is None or isinstance(value, dict | list):
            return None
        values.append(value)
    try:
        encoded = orjson.dumps([fields, values])
    except orjson.JSONEncodeError:
        return None
    return VERSION_PREFIX + hashlib.blake2b(encoded, digest_size=16).hexdigest()


def keyed_by_version(
    entries: list[SinkEntry], records: Mapping[int, Mapping[str, Any]], fields: tuple[str, ...]
) -> None:
    """Give each entry whose record (by index) has a version that version's id as its key."""
    for index, record in records.items():
        key = version_id(record, fields)
        if key is not None:
            entries[index] = entries[index]._replace(key=key)
