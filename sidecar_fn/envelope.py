"""Pure construction of AOS envelopes and dead-letter entries."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

ENVELOPE_VERSION = 1
ENVELOPE_FIELD = "envelope"
DEAD_LETTER_FIELDS = ("reason", "raw", "error", "source_id", "item_id", "received_at")
REDRIVE_FIELDS = ("redriven_from", "attempts")
"""Extra dead-letter fields of a replayed record that failed again."""


def format_received_at(now: datetime) -> str:
    """ISO 8601 UTC timestamp with millisecond precision and a `Z` suffix."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def build_meta(
    *,
    source_id: str,
    item_id: str,
    record_id: Any,
    received_at: str,
    drifted_fields: Sequence[str] = (),
    repaired_fields: Sequence[str] = (),
    repair_source: str | None = None,
    repairs: Mapping[str, str] | None = None,
    drift_kinds: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The envelope's `meta` object; `repairs` (field to how it was repaired) and
    `drift_kinds` (field to kind of drift) appear when given."""
    meta = {
        "envelope_version": ENVELOPE_VERSION,
        "source_id": source_id,
        "item_id": item_id,
        "record_id": record_id,
        "received_at": received_at,
        "drift_detected": bool(drifted_fields),
        "drifted_fields": list(drifted_fields),
        "is_repaired": bool(repaired_fields),
        "repaired_fields": list(repaired_fields),
        "repair_source": repair_source,
    }
    if repairs is not None:
        meta["repairs"] = dict(repairs)
    if drift_kinds is not None:
        meta["drift_kinds"] = dict(drift_kinds)
    return meta


def dump_envelope(meta: Mapping[str, Any], payload: Mapping[str, Any]) -> bytes:
    """The main stream's `envelope` field: `{"meta": ..., "payload": ...}` as JSON bytes.

    What is written is always the payload as judged (parsed), never the record's own text:
    that text may repeat a key, and a reader keeping the first value would see another
    record than the one checked. A payload nested deeper than orjson writes (254 levels)
    is written by the standard library; ValueError when that cannot either.
    """
    try:
        return orjson.dumps({"meta": meta, "payload": payload})
    except orjson.JSONEncodeError:
        pass
    try:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    except (RecursionError, ValueError, TypeError) as exc:
        raise ValueError(f"record nested too deep to write as JSON: {exc}") from None
    return b'{"meta":' + orjson.dumps(meta) + b',"payload":' + body + b"}"
