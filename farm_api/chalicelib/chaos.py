"""The toxic stream: the record at a sequence is a pure function of (seed, chaos, sequence).

Each record draws from its own hash-derived values keyed by (seed, chaos, sequence), so a
page can be fetched again, split differently or generated out of order and is identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from chalicelib.catalogue import Invoice, pristine_invoice
from chalicelib.field_drift import DEFAULT_KIND_SHARES, KindShares, apply_kind
from chalicelib.ids import MAX_ID_LENGTH
from chalicelib.rng import draws, unit

CLEAN = "clean"
DRIFTED = "drifted"
UNREPAIRABLE = "unrepairable"
MALFORMED = "malformed"

SEED_STRIDE = 100_003
MAX_INVOICE_NUMBER = 10 ** (MAX_ID_LENGTH - 4) - 1
DRIFT_FIELDS = ("vendor_id", "billing_address", "status", "total_amount")
_FIELD_TABLE = (
    ("vendor_id",) * 11 + ("billing_address",) * 3 + ("status",) * 3 + ("total_amount",) * 3
)
_SECOND_FIELD_SHARE = 0.3
_NO_KINDS = KindShares(0.0, 0.0, 0.0, 0.0)
_GARBAGE = (
    "xml",
    "pipe",
    "pseudo_json",
    "html",
)
_MALFORMED_TABLE = ("truncated",) * 8 + ("garbage",) * 5 + ("array",) * 3 + ("scalar",) * 4


@dataclass(frozen=True)
class ChaosRates:
    """Shares of drifted and malformed records, the unrepairable share of drifted ones, and
    how each drifted field drifts (`kinds`; unrepairable records only lose or null fields)."""

    drift_rate: float
    malformed_rate: float
    unrepairable_share: float
    kinds: KindShares = DEFAULT_KIND_SHARES


class StreamRecord(NamedTuple):
    """One record of the stream, with the ground truth about what it is.

    Only `sequence` and `data` go over the wire; `kind`, `invoice_id` (the id the data
    names, None when it names none), `drifted_fields` and `drift_kinds` (aligned with
    `drifted_fields`: missing, null, renamed, wrong_type, case, empty) let tests check a
    consumer.
    """

    sequence: int
    data: str
    kind: str
    invoice_id: str | None
    drifted_fields: tuple[str, ...] = ()
    drift_kinds: tuple[str, ...] = ()


def stream_invoice_number(seed: int, sequence: int, catalogue_size: int) -> int:
    """The catalogue invoice the record at `sequence` is about (INV-1.. for seed 0)."""
    return (seed * SEED_STRIDE + sequence) % catalogue_size + 1


def record_at(
    seed: int, chaos: bool, sequence: int, rates: ChaosRates, catalogue_size: int
) -> StreamRecord:
    """The record at `sequence`; identical for identical arguments."""
    number = stream_invoice_number(seed, sequence, catalogue_size)
    invoice = pristine_invoice(number)
    if not chaos:
        return StreamRecord(sequence, _dumps(invoice), CLEAN, invoice["invoice_id"])
    v = draws(b"stream:%d:1:%d" % (seed, sequence))
    roll = unit(v[0])
    if roll < rates.malformed_rate:
        return StreamRecord(sequence, _malformed(invoice, v), MALFORMED, None)
    if roll < rates.malformed_rate + rates.drift_rate:
        return _drifted(seed, sequence, invoice, v, rates, catalogue_size)
    return StreamRecord(sequence, _dumps(invoice), CLEAN, invoice["invoice_id"])


def stream_page(
    seed: int, chaos: bool, cursor: int, limit: int, rates: ChaosRates, catalogue_size: int
) -> bytes:
    """One page as JSON: `{"records": [{"sequence", "data"}...], "next_cursor": n}`."""
    records = [
        {"sequence": sequence, "data": record_at(seed, chaos, sequence, rates, catalogue_size).data}
        for sequence in range(cursor, cursor + limit)
    ]
    return orjson.dumps({"records": records, "next_cursor": cursor + limit})


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _drifted(
    seed: int,
    sequence: int,
    invoice: Invoice,
    v: tuple[int, ...],
    rates: ChaosRates,
    catalogue_size: int,
) -> StreamRecord:
    fields = [_FIELD_TABLE[v[1] % len(_FIELD_TABLE)]]
    if unit(v[2]) < _SECOND_FIELD_SHARE:
        second = DRIFT_FIELDS[v[3] % len(DRIFT_FIELDS)]
        if second not in fields:
            fields.append(second)
    kind = DRIFTED
    record_id: str | None = invoice["invoice_id"]
    shares = rates.kinds
    if unit(v[4]) < rates.unrepairable_share:
        shares = _NO_KINDS
        kind = UNREPAIRABLE
        unknown = (
            catalogue_size
            + 1
            + v[5] % max(1, min(catalogue_size, MAX_INVOICE_NUMBER - catalogue_size))
        )
        if v[6] % 2 == 0 and unknown <= MAX_INVOICE_NUMBER:
            invoice = pristine_invoice(unknown)
            record_id = invoice["invoice_id"]
        else:
            del invoice["invoice_id"]
            record_id = None
    w = v if shares is _NO_KINDS else draws(b"stream:%d:1:%d:kinds" % (seed, sequence))
    kinds = []
    for index, (field, null_roll) in enumerate(zip(fields, (v[7], v[6]), strict=False)):
        drift = shares.kind_for(field, unit(w[2 * index]), unit(null_roll))
        apply_kind(invoice, field, drift, w[2 * index + 1])
        kinds.append(drift)
    return StreamRecord(sequence, _dumps(invoice), kind, record_id, tuple(fields), tuple(kinds))


def _malformed(invoice: Invoice, v: tuple[int, ...]) -> str:
    text = _dumps(invoice)
    shape = _MALFORMED_TABLE[v[1] % len(_MALFORMED_TABLE)]
    if shape == "truncated":
        return text[: 1 + v[2] % (len(text) - 1)]
    if shape == "array":
        return f"[{text}]" if v[2] % 4 else "[]"
    if shape == "scalar":
        return _scalar(invoice, v[2] % 10)
    return _garbage(invoice, _GARBAGE[v[2] % len(_GARBAGE)])


def _scalar(invoice: Invoice, pick: int) -> str:
    if pick < 6:
        return _dumps(invoice["total_amount"])
    if pick < 8:
        return _dumps(invoice["invoice_id"])
    return "null" if pick == 8 else "true"


def _garbage(invoice: Invoice, shape: str) -> str:
    inv, amount, vendor = invoice["invoice_id"], invoice["total_amount"], invoice["vendor_id"]
    if shape == "xml":
        return (
            f'<?xml version="1.0"?><Invoice><Id>{inv}</Id>'
            f"<VendorId>{vendor}</VendorId><Amount>{amount}</Amount></Invoice>"
        )
    if shape == "pipe":
        return f"{inv}|{vendor}|{invoice['vendor_name']}|{amount}|{invoice['currency']}"
    if shape == "pseudo_json":
        return f"{{invoice_id: '{inv}', total_amount: {amount}, vendor_id: '{vendor}'}}"
    return "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
