"""Pure repair: fill a drifted record's fields from its source-of-truth record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sidecar_fn.errors import Unrepairable
from sidecar_fn.schema import ID_FIELD, MISSING, Schema


def merge(
    record: Mapping[str, Any],
    drifted: Sequence[str],
    source: Mapping[str, Any] | None,
    schema: Schema,
) -> dict[str, Any]:
    """Return a copy of `record` with exactly the `drifted` fields taken from `source`.

    Present fields are never overwritten. Raises Unrepairable when the source record is
    absent, belongs to another invoice, or cannot supply a valid value for a drifted field.
    """
    invoice_id = record.get(ID_FIELD)
    if source is None:
        raise Unrepairable(f"{invoice_id} is unknown to the source of truth")
    if source.get(ID_FIELD) != invoice_id:
        raise Unrepairable(
            f"source of truth answered {source.get(ID_FIELD)!r} for {invoice_id!r}; refused"
        )
    specs = {spec.name: spec for spec in schema.fields}
    repaired = dict(record)
    lacking = []
    for name in drifted:
        value = source.get(name, MISSING)
        if not specs[name].accepts(value):
            lacking.append(name)
        else:
            repaired[name] = value
    if lacking:
        raise Unrepairable(
            f"source of truth lacks a valid {', '.join(lacking)} for {invoice_id} too"
        )
    return repaired
