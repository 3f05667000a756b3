"""Where every item ended: read both streams, check each item is once, in one place, repaired."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import redis

from sidecar_fn.drift import drifted_fields
from sidecar_fn.healing import DriftTally, Healer
from sidecar_fn.schema import BUILTIN_SCHEMA

from .evil_sot import pristine_invoice

SCHEMA_TYPES: dict[str, tuple[type, ...]] = {
    "invoice_id": (str,),
    "total_amount": (int, float),
    "vendor_id": (str,),
    "status": (str,),
}
STATUSES = frozenset({"DRAFT", "SUBMITTED", "APPROVED", "PAID", "VOID"})
DLQ_FIELDS = ("reason", "raw", "error", "source_id", "item_id", "received_at")
META_FIELDS = (
    "source_id",
    "item_id",
    "record_id",
    "received_at",
    "drift_detected",
    "drifted_fields",
    "is_repaired",
    "repaired_fields",
    "repair_source",
)
SourceOfTruth = Callable[[str], Mapping[str, Any] | None]
ReadStreams = Callable[[], "Ledger"]
"""Reads the test's main and dead-letter streams into a fresh ledger."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@dataclass
class Ledger:
    """Every entry of the main and dead-letter streams, grouped by item id."""

    main: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    dlq: dict[str, list[dict[bytes, bytes]]] = field(default_factory=lambda: defaultdict(list))
    main_entries: int = 0
    dlq_entries: int = 0

    def places(self, item_id: str) -> int:
        """How many entries, in both streams, hold `item_id`."""
        return len(self.main.get(item_id, ())) + len(self.dlq.get(item_id, ()))

    def item_ids(self) -> set[str]:
        """Every item id seen in either stream."""
        return set(self.main) | set(self.dlq)

    def duplicates(self) -> dict[str, int]:
        """Item ids held by more than one entry, with their entry counts."""
        return {item: n for item in self.item_ids() if (n := self.places(item)) > 1}

    def dlq_reasons(self) -> Counter[str]:
        """Dead-letter entries per reason."""
        return Counter(_text(e[b"reason"]) for entries in self.dlq.values() for e in entries)

    def outcome(self, item_id: str) -> str | None:
        """`clean`, `repaired`, a dead-letter reason, or None when the item is nowhere."""
        if item_id in self.main:
            return "repaired" if self.main[item_id][0]["meta"]["is_repaired"] else "clean"
        if item_id in self.dlq:
            return _text(self.dlq[item_id][0][b"reason"])
        return None


def _xrange_all(client: redis.Redis, key: str, chunk: int = 5000) -> Iterable[dict[bytes, bytes]]:
    start = "-"
    while True:
        rows = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(key, start, "+", chunk))
        if not rows:
            return
        for _, fields in rows:
            yield fields
        last = _text(rows[-1][0])
        millis, seq = last.split("-")
        start = f"{millis}-{int(seq) + 1}"
        if len(rows) < chunk:
            return


def _utc_timestamp(value: Any) -> bool:
    """True for an ISO 8601 timestamp in UTC (`Z` or `+00:00`)."""
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.utcoffset() == timedelta(0)


def read_ledger(client: redis.Redis, stream: str, dlq_stream: str) -> Ledger:
    """Read both streams completely."""
    ledger = Ledger()
    for fields in _xrange_all(client, stream):
        envelope = json.loads(fields[b"envelope"])
        ledger.main[_text(envelope["meta"]["item_id"])].append(envelope)
        ledger.main_entries += 1
    for fields in _xrange_all(client, dlq_stream):
        ledger.dlq[_text(fields[b"item_id"])].append(fields)
        ledger.dlq_entries += 1
    return ledger


def schema_drift(record: Mapping[str, Any]) -> set[str]:
    """The built-in schema's fields that `record` lacks, holds null, empty or mistyped for,
    or (status) holds outside its enum."""
    drifted = set()
    for name, types in SCHEMA_TYPES.items():
        value = record.get(name)
        mistyped = isinstance(value, bool) or not isinstance(value, types)
        invalid = not mistyped and (value == "" or (name == "status" and value not in STATUSES))
        if mistyped or invalid or (isinstance(value, float) and not math.isfinite(value)):
            drifted.add(name)
    return drifted


def locally_unrepaired(record: Mapping[str, Any]) -> set[str]:
    """The drifted fields the sidecar's certain local repairs (renamed, number as text, enum
    case) leave for the source of truth, with local repair of every field on."""
    healer = Healer(BUILTIN_SCHEMA, verify_share=0.0)
    triage = healer.triage("", record, drifted_fields(record, BUILTIN_SCHEMA), DriftTally())
    return set(triage.remaining)


def drifted_invoice_ids(raws: Iterable[bytes]) -> set[str]:
    """Invoice ids of the drifted records among `raws` (the ones an oracle must look up)."""
    ids = set()
    for raw in raws:
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if isinstance(record, dict) and schema_drift(record):
            invoice_id = record.get("invoice_id")
            if isinstance(invoice_id, str):
                ids.add(invoice_id)
    return ids


def expected_outcome(raw: bytes, sot: SourceOfTruth = pristine_invoice) -> str:
    """What the contract says happens to a well-behaved test record."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "malformed"
    if not isinstance(record, dict):
        return "malformed"
    if not schema_drift(record):
        return "clean"
    missing = locally_unrepaired(record)
    if not missing:
        return "repaired"
    invoice_id = record.get("invoice_id")
    truth = sot(invoice_id) if isinstance(invoice_id, str) else None
    if truth is None or schema_drift(truth) & missing:
        return "unrepairable"
    return "repaired"


def main_entry_problems(
    envelope: Mapping[str, Any], sot: SourceOfTruth = pristine_invoice
) -> list[str]:
    """Why a main-stream envelope breaks the contract (empty when it keeps it)."""
    meta, payload = envelope.get("meta", {}), envelope.get("payload")
    item = meta.get("item_id")
    problems = [f"{item}: meta lacks {name}" for name in META_FIELDS if name not in meta]
    if not _utc_timestamp(meta.get("received_at")):
        problems.append(f"{item}: received_at {meta.get('received_at')!r} is not ISO 8601 UTC")
    if not isinstance(payload, dict):
        return [*problems, f"{item}: payload is not an object"]
    if still := schema_drift(payload):
        problems.append(f"{item}: drifted fields reached the main stream: {sorted(still)}")
    if meta.get("record_id") != payload.get("invoice_id"):
        problems.append(f"{item}: record_id {meta.get('record_id')!r} != payload invoice_id")
    repaired = set(meta.get("repaired_fields") or ())
    if bool(meta.get("is_repaired")) != bool(repaired):
        problems.append(f"{item}: is_repaired disagrees with repaired_fields {sorted(repaired)}")
    if meta.get("drift_detected") and not meta.get("is_repaired"):
        problems.append(f"{item}: drift detected but not repaired")
    repairs = meta.get("repairs")
    from_source = repairs is None or "source_of_truth" in repairs.values()
    if repaired:
        truth = sot(str(payload.get("invoice_id")))
        if truth is None and from_source:
            problems.append(f"{item}: repaired from an invoice the source does not hold")
        elif truth is not None:
            for name in repaired:
                if payload.get(name) != truth.get(name):
                    problems.append(f"{item}: repaired {name}={payload.get(name)!r} differs")
    return problems


def check_ledger(
    ledger: Ledger,
    items: Mapping[str, bytes],
    *,
    pending: Iterable[str] = (),
    optional: Iterable[str] = (),
    sot: SourceOfTruth = pristine_invoice,
    exact_outcomes: bool = True,
) -> list[str]:
    """Every problem with where `items` ended: lost, duplicated, foreign, wrong or unrepaired.

    `pending` names items failed back to the trigger and not yet redelivered: they must be
    nowhere; `optional` items (in flight when a process died) may be nowhere or once. With
    `exact_outcomes` each other item must end where `expected_outcome` says
    (a `retries_exhausted` dead letter is always accepted).
    """
    pending, optional = set(pending), set(optional)
    problems = []
    for item_id, raw in items.items():
        places = ledger.places(item_id)
        if item_id in optional and places == 0:
            continue
        if item_id in pending:
            if places:
                problems.append(f"{item_id}: failed back yet also written ({places} entries)")
            continue
        if places != 1:
            problems.append(f"{item_id}: {places} entries (want exactly 1)")
            continue
        outcome = ledger.outcome(item_id)
        for entry in ledger.dlq.get(item_id, ()):
            if _bytes(entry.get(b"raw", b"")) != raw:
                problems.append(f"{item_id}: dead-letter raw is not the original bytes")
            if not entry.get(b"error"):
                problems.append(f"{item_id}: dead-letter entry without an error detail")
            if missing := [name for name in DLQ_FIELDS if name.encode() not in entry]:
                problems.append(f"{item_id}: dead-letter entry lacks {missing}")
            if not _utc_timestamp(_text(entry.get(b"received_at", b""))):
                problems.append(f"{item_id}: dead-letter received_at is not ISO 8601 UTC")
        want = expected_outcome(raw, sot)
        if exact_outcomes and outcome != "retries_exhausted" and outcome != want:
            problems.append(f"{item_id}: ended as {outcome}, expected {want}")
    for item_id in ledger.item_ids() - set(items):
        problems.append(f"{item_id}: entry for an item never delivered")
    for envelopes in ledger.main.values():
        for envelope in envelopes:
            problems.extend(main_entry_problems(envelope, sot))
    return problems
