"""Pure drift classification of a decoded record against the expected schema."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sidecar_fn.schema import ID_FIELD, MISSING, Schema

INVOICE_ID_RE = re.compile(r"INV-[0-9]{1,12}", re.ASCII)


def drifted_fields(record: Mapping[str, Any], schema: Schema) -> tuple[str, ...]:
    """Names of the declared fields that are missing, null (unless allowed), empty, of the
    wrong type, off-enum or outside their constraints. (The fast test passes truthy values
    of an exact type; anything else, such as 0 or "", is decided by the field's own
    `accepts`.)"""
    get = record.get
    missing = MISSING
    drifted: list[str] | None = None
    for name, exact, enum, spec in schema.checks:
        value = get(name, missing)
        if type(value) in exact and value and (enum is None or value in enum):
            continue
        if spec.accepts(value):
            continue
        if drifted is None:
            drifted = [name]
        else:
            drifted.append(name)
    return () if drifted is None else tuple(drifted)


def valid_invoice_id(value: Any) -> bool:
    """True for an id the source of truth can be asked about: `INV-` and 1 to 12 ASCII digits."""
    return isinstance(value, str) and INVOICE_ID_RE.fullmatch(value) is not None


def lookup_problem(record: Mapping[str, Any]) -> str | None:
    """Why a drifted record cannot be looked up in the source of truth, or None if it can."""
    value = record.get(ID_FIELD)
    if value is None:
        return f"drifted record has no {ID_FIELD}"
    if not valid_invoice_id(value):
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"drifted record has an invalid {ID_FIELD}: {shown}"
    return None
