"""Expected record schema: the built-in invoice fields or a JSON schema file (AOS_SCHEMA)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sidecar_fn.errors import SchemaError

ID_FIELD = "invoice_id"

_EXACT: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "number": frozenset({int, float}),
    "integer": frozenset({int}),
    "boolean": frozenset({bool}),
    "object": frozenset({dict}),
    "array": frozenset({list}),
}
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One expected field: its JSON type, optionally the values it may take, the other
    names it may arrive under (`aliases`, a dotted name for one level of nesting) and
    whether an empty string passes (`allow_empty`, a schema file's `"minLength": 0`)."""

    name: str
    type: str
    enum: frozenset[Any] | None = None
    aliases: tuple[str, ...] = ()
    allow_empty: bool = False

    def accepts(self, value: Any) -> bool:
        """True when `value` is present, non-null, non-empty (for a string unless
        `allow_empty`), of the declared type and in the enum."""
        if value is None:
            return False
        if isinstance(value, bool) and self.type != "boolean":
            return False
        if not isinstance(value, _TYPES[self.type]):
            return False
        if value == "" and not self.allow_empty:
            return False
        return self.enum is None or value in self.enum


Check = tuple[str, frozenset[type], frozenset[Any] | None, FieldSpec]


@dataclass(frozen=True, slots=True)
class Schema:
    """The fields every record must carry; drift is a field that misses this.

    `known` names every field a record may carry (the expected ones and optional ones);
    a field outside it is reported as unexpected. None when the schema does not say.
    """

    fields: tuple[FieldSpec, ...]
    known: frozenset[str] | None = None
    checks: tuple[Check, ...] = field(init=False, repr=False, compare=False)
    """Per field: name, the exact decoded types that pass at once, enum, spec."""

    def __post_init__(self) -> None:
        checks = tuple((f.name, _EXACT[f.type], f.enum, f) for f in self.fields)
        object.__setattr__(self, "checks", checks)
        if self.known is not None:
            object.__setattr__(self, "known", self.known | frozenset(self.names))

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the declared fields, in declaration order."""
        return tuple(spec.name for spec in self.fields)


INVOICE_STATUSES = frozenset({"DRAFT", "SUBMITTED", "APPROVED", "PAID", "VOID"})
INVOICE_FIELDS = frozenset(
    {
        ID_FIELD,
        "vendor_id",
        "vendor_name",
        "total_amount",
        "currency",
        "status",
        "issue_date",
        "billing_address",
        "last_modified",
    }
)

BUILTIN_SCHEMA = Schema(
    fields=(
        FieldSpec(ID_FIELD, "string"),
        FieldSpec("total_amount", "number"),
        FieldSpec("vendor_id", "string"),
        FieldSpec("status", "string", INVOICE_STATUSES),
    ),
    known=INVOICE_FIELDS,
)


def _field(name: str, spec: Any) -> FieldSpec:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping):
        raise SchemaError(f"field {name!r}: expected a type name or an object")
    type_name = spec.get("type")
    if type_name not in _TYPES:
        raise SchemaError(
            f"field {name!r}: type must be one of {sorted(_TYPES)}, not {type_name!r}"
        )
    enum = spec.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        raise SchemaError(f"field {name!r}: enum must be a non-empty list")
    if enum is not None and type_name in {"object", "array"}:
        raise SchemaError(f"field {name!r}: enum is only for scalar types")
    min_length = spec.get("minLength")
    if min_length is not None and (type(min_length) is not int or min_length < 0):
        raise SchemaError(f"field {name!r}: minLength must be a non-negative integer")
    allow_empty = min_length == 0
    if enum is not None and not all(
        FieldSpec(name, type_name, allow_empty=allow_empty).accepts(v) for v in enum
    ):
        raise SchemaError(f"field {name!r}: every enum value must be a {type_name}")
    aliases = spec.get("aliases", [])
    if not isinstance(aliases, list) or not all(_alias_ok(a) for a in aliases):
        raise SchemaError(
            f"field {name!r}: aliases must be a list of names, a dotted name for a nested one"
        )
    return FieldSpec(
        name,
        type_name,
        frozenset(enum) if enum is not None else None,
        tuple(aliases),
        allow_empty,
    )


def _alias_ok(alias: Any) -> bool:
    return isinstance(alias, str) and all(part for part in alias.split(".", 1))


def parse_schema(document: Any) -> Schema:
    """Build a Schema from a decoded schema document.

    Accepted shapes: `{"fields": {"name": "string" | {"type": ..., "enum": [...]}, ...}}`
    (with an optional `"known_fields": [...]` list of optional fields; any other field is
    unexpected), or a JSON Schema
    subset `{"properties": {...}, "required": [...]}` (only the required properties are
    expected; every property is known). A field may declare `"aliases": [...]` and
    `"minLength": 0`. `invoice_id` is always expected as a string.
    """
    if not isinstance(document, Mapping):
        raise SchemaError("schema must be a JSON object")
    if "fields" in document:
        declared = document["fields"]
        if not isinstance(declared, Mapping):
            raise SchemaError('"fields" must be an object of field name to type')
        items = list(declared.items())
        known_list = document.get("known_fields")
        if known_list is not None and (
            not isinstance(known_list, list) or not all(isinstance(n, str) for n in known_list)
        ):
            raise SchemaError('"known_fields" must be a list of field names')
        known = frozenset(known_list or ())
    elif "properties" in document:
        props = document["properties"]
        required = document.get("required", list(props) if isinstance(props, Mapping) else [])
        if not isinstance(props, Mapping) or not isinstance(required, list):
            raise SchemaError('"properties" must be an object and "required" a list')
        missing = [name for name in required if name not in props]
        if missing:
            raise SchemaError(f"required fields without a declared type: {missing}")
        items = [(name, props[name]) for name in required]
        known = frozenset(str(name) for name in props)
    else:
        raise SchemaError('schema needs "fields" or "properties"')
    fields = [_field(str(name), spec) for name, spec in items]
    if not any(f.name == ID_FIELD for f in fields):
        fields.insert(0, FieldSpec(ID_FIELD, "string"))
    id_spec = next(f for f in fields if f.name == ID_FIELD)
    if id_spec.type != "string":
        raise SchemaError(f"{ID_FIELD} must be declared as a string")
    return Schema(fields=tuple(fields), known=known)


def load_schema(path: str | None) -> Schema:
    """The schema at `path` (a JSON file), or the built-in one when `path` is None."""
    if path is None:
        return BUILTIN_SCHEMA
    try:
        document = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise SchemaError(f"schema file {path} is not valid JSON: {exc}") from None
    return parse_schema(document)
