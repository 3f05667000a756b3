"""Pure per-field drift classification: missing, null, empty, wrong_type, renamed, case, invalid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sidecar_fn.aliases import AliasIndex, Path
from sidecar_fn.schema import FieldSpec, Schema

MISSING = "missing"
NULL = "null"
EMPTY = "empty"
WRONG_TYPE = "wrong_type"
RENAMED = "renamed"
CASE = "case"
INVALID = "invalid"
KINDS = (MISSING, NULL, EMPTY, WRONG_TYPE, RENAMED, CASE, INVALID)


@dataclass(frozen=True, slots=True)
class FieldDrift:
    """How one declared field drifted; `alias` is where a renamed value was found."""

    kind: str
    alias: Path | None = None


def classify(
    record: Mapping[str, Any],
    drifted: Sequence[str],
    specs: Mapping[str, FieldSpec],
    index: AliasIndex,
) -> dict[str, FieldDrift]:
    """The kind of drift of each of the `drifted` fields of `record`.

    `renamed` wins when exactly one other key holds the field; with two or more the
    value is not certain and the field is classified by its own value.
    """
    candidates = index.candidates(record, drifted)
    kinds: dict[str, FieldDrift] = {}
    for name in drifted:
        paths = candidates.get(name)
        if paths is not None and len(paths) == 1:
            kinds[name] = FieldDrift(RENAMED, paths[0])
        else:
            kinds[name] = FieldDrift(value_kind(record, name, specs[name]))
    return kinds


def value_kind(record: Mapping[str, Any], name: str, spec: FieldSpec) -> str:
    """The kind of drift of the value under the field's own name."""
    if name not in record:
        return MISSING
    value = record[name]
    if value is None:
        return NULL
    if value == "" and type(value) is str and spec.type == "string":
        return EMPTY
    if not FieldSpec(name, spec.type, min_length=0).accepts(value):
        return WRONG_TYPE
    if spec.enum is not None and type(value) is str and canonical_case(value, spec.enum):
        return CASE
    return INVALID


def canonical_case(value: str, enum: frozenset[Any]) -> str | None:
    """The one enum value equal to `value` ignoring case, or None (none, or several)."""
    folded = value.casefold()
    matches = [v for v in enum if type(v) is str and v.casefold() == folded]
    return matches[0] if len(matches) == 1 else None


def unexpected_fields(record: Mapping[str, Any], schema: Schema) -> list[str]:
    """Keys of `record` that name no declared or known field (empty when none are known)."""
    known = schema.known
    if known is None or known.issuperset(record):
        return []
    return [key for key in record if key not in known]


def drift_kinds_of(
    record: Mapping[str, Any], drifted: Sequence[str], schema: Schema
) -> tuple[str, ...]:
    """The kinds of drift of `drifted`, in order (for a record outside the batch path)."""
    specs = {spec.name: spec for spec in schema.fields}
    found = classify(record, drifted, specs, AliasIndex.from_schema(schema))
    return tuple(found[name].kind for name in drifted)
