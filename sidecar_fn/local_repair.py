"""Pure local repair of drift whose right value is certain, without the source of truth.

Certain means: a renamed value moves to its canonical name (the alias key is removed), a
number written as text that parses exactly becomes that number, an enum value that
matches ignoring case takes the canonical spelling. Everything else is left to the
source of truth. Numbers are parsed by hand with the JSON number grammar (not `float()`,
which also takes `" 1"`, `"1_0"`, `"nan"` and `"inf"`) and kept only when the decimal
text and the resulting number are the same value.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sidecar_fn.aliases import read_path, remove_path
from sidecar_fn.drift_kinds import CASE, RENAMED, WRONG_TYPE, FieldDrift, canonical_case
from sidecar_fn.schema import FieldSpec

SOURCE_OF_TRUTH = "source_of_truth"
_JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,30})", re.ASCII)
_JSON_NUMBER = re.compile(
    r"-?(?:0|[1-9][0-9]{0,30})(?:\.[0-9]{1,30})?(?:[eE][-+]?[0-9]{1,3})?", re.ASCII
)


@dataclass
class LocalRepair:
    """A record after local repair: `repairs` maps each field repaired here to how
    (`renamed:<alias>`, `coerced:<from type>`, `case`); `remaining` still needs the source."""

    record: dict[str, Any]
    repairs: dict[str, str] = field(default_factory=dict)
    remaining: list[str] = field(default_factory=list)


def exact_number(text: str, type_name: str) -> int | float | None:
    """The number `text` writes, when it writes one exactly as a JSON number of the type."""
    if _JSON_INTEGER.fullmatch(text) is not None:
        return int(text)
    if type_name != "number" or _JSON_NUMBER.fullmatch(text) is None:
        return None
    number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if Decimal(text) != Decimal(repr(number)):
        return None
    return number


def fix_value(value: Any, spec: FieldSpec) -> tuple[Any, str] | None:
    """`value` made valid for `spec` with how it was fixed ("" when it already was), or None."""
    if spec.accepts(value):
        return value, ""
    if type(value) is str and spec.type in ("number", "integer"):
        number = exact_number(value, spec.type)
        if number is not None and spec.accepts(number):
            return number, "coerced:string"
    if type(value) is str and spec.enum is not None:
        canonical = canonical_case(value, spec.enum)
        if canonical is not None and spec.accepts(canonical):
            return canonical, CASE
    return None


def repair_locally(
    record: Mapping[str, Any],
    drift: Mapping[str, FieldDrift],
    specs: Mapping[str, FieldSpec],
    disabled: Container[str],
) -> LocalRepair:
    """A copy of `record` with every certain repair made; fields in `disabled` are left.

    A renamed field's alias key is removed even when its value is not usable, since the
    source of truth then fills the canonical name.
    """
    result = LocalRepair(dict(record))
    repaired = result.record
    for name, found in drift.items():
        spec = specs[name]
        if found.kind == RENAMED and found.alias is not None:
            value = read_path(repaired, found.alias)
            remove_path(repaired, found.alias)
            fixed = None if name in disabled else fix_value(value, spec)
            if fixed is None:
                result.remaining.append(name)
                continue
            repaired[name] = fixed[0]
            result.repairs[name] = f"{RENAMED}:{'.'.join(found.alias)}"
        elif found.kind in (WRONG_TYPE, CASE) and name not in disabled:
            fixed = fix_value(repaired.get(name), spec)
            if fixed is None:
                result.remaining.append(name)
                continue
            repaired[name] = fixed[0]
            result.repairs[name] = fixed[1]
        else:
            result.remaining.append(name)
    return result
