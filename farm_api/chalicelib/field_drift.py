"""How one field of a drifted record drifts: missing, null, renamed, a number as text, case, empty.

Every kind keeps the value recoverable or absent, never wrong: a renamed field carries the
source of truth's value under another name, a number as text parses back to the same
number, a case change differs from the canonical enum spelling by case only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

MISSING = "missing"
NULL = "null"
RENAMED = "renamed"
WRONG_TYPE = "wrong_type"
CASE = "case"
EMPTY = "empty"
KINDS = (MISSING, NULL, RENAMED, WRONG_TYPE, CASE, EMPTY)

DEFAULT_RENAMED_SHARE = 0.3
DEFAULT_STRING_NUMBER_SHARE = 0.5
DEFAULT_CASE_SHARE = 0.5
DEFAULT_EMPTY_SHARE = 0.15
_NULL_SHARE = 0.4

NUMBER_FIELDS = frozenset({"total_amount"})
ENUM_FIELDS = frozenset({"status"})
STRING_FIELDS = frozenset({"vendor_id", "status"})

RENAMES: dict[str, tuple[tuple[str, ...], ...]] = {
    "vendor_id": (("vendorId",), ("VendorId",), ("VendorID",), ("vendor", "id")),
    "total_amount": (("totalAmount",), ("TotalAmount",), ("total", "amount")),
    "billing_address": (("billingAddress",), ("BillingAddress",), ("billing", "address")),
    "status": (("Status",), ("STATUS",)),
}


@dataclass(frozen=True)
class KindShares:
    """Per drifted field, the chance of each kind where it applies; the rest is missing/null.

    `renamed` applies to every field, `string_number` to numbers, `case` to enums, `empty`
    to strings. The shares that apply to one field never sum past 1.
    """

    renamed: float = DEFAULT_RENAMED_SHARE
    string_number: float = DEFAULT_STRING_NUMBER_SHARE
    case: float = DEFAULT_CASE_SHARE
    empty: float = DEFAULT_EMPTY_SHARE

    def problem(self) -> str | None:
        """Why these shares cannot be used, or None."""
        for name in ("renamed", "string_number", "case", "empty"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                return f"{name} share must be a number from 0 to 1, got {value!r}"
        if self.renamed + self.string_number > 1.0:
            return "renamed + string_number shares must not exceed 1"
        if self.renamed + self.case + self.empty > 1.0:
            return "renamed + case + empty shares must not exceed 1"
        return None

    def kind_for(self, field: str, roll: float, null_roll: float) -> str:
        """The kind of drift of `field` for a uniform `roll` and `null_roll` in [0, 1)."""
        edge = self.renamed
        if roll < edge:
            return RENAMED
        for share, kind, fields in (
            (self.string_number, WRONG_TYPE, NUMBER_FIELDS),
            (self.case, CASE, ENUM_FIELDS),
            (self.empty, EMPTY, STRING_FIELDS),
        ):
            if field in fields:
                edge += share
                if roll < edge:
                    return kind
        return NULL if null_roll < _NULL_SHARE else MISSING


DEFAULT_KIND_SHARES = KindShares()


def apply_kind(record: dict[str, Any], field: str, kind: str, pick: int) -> None:
    """Drift `record[field]` in place by `kind`; `pick` chooses among a kind's variants."""
    if kind == MISSING:
        del record[field]
    elif kind == NULL:
        record[field] = None
    elif kind == RENAMED:
        path = RENAMES[field][pick % len(RENAMES[field])]
        value = record.pop(field)
        if len(path) == 1:
            record[path[0]] = value
        else:
            record[path[0]] = {path[1]: value}
    elif kind == WRONG_TYPE:
        record[field] = orjson.dumps(record[field]).decode()
    elif kind == CASE:
        text = str(record[field])
        record[field] = text.lower() if pick % 2 == 0 else text.capitalize()
    elif kind == EMPTY:
        record[field] = ""
    else:
        raise ValueError(f"unknown drift kind {kind!r}")
