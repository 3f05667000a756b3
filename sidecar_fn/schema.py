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
    """One expected field: its JSON type and, optionally, the values it may take."""

    name: str
    type: str
    enum: frozenset[Any] | None = None

    def accepts(self, value: Any) -> bool:
        """True when `value` is present, non-null, of the declared type and in the enum."""
        if value is None:
            return False
        if isinstance(value, bool) and self.type != "boolean":
            return False
        if not isinstance(value, _TYPES[self.type]):
            return False
        return self.enum is None or value in self.enum


Check = tuple[str, frozenset[type], frozenset[Any] | None, FieldSpec]


@dataclass(frozen=True, slots=True)
class Schema:
    """The fields every record must carry; drift is a field that misses this."""

    fields: tuple[FieldSpec, ...]
    optional: frozenset[str] = frozenset()
    """Fields a record may carry without being expected; any other undeclared field is
    counted as unexpected in the drift statistics."""
    checks: tuple[Check, ...] = field(init=False, repr=False, compare=False)
    """Per field: name, the exact decoded types that pass at once, enum, spec."""

    def __post_init__(self) -> None:
        checks = tuple((f.name, _EXACT[f.type], f.enum, f) for f in self.fields)
        object.__setattr__(self, "checks", checks)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the declared fields, in declaration order."""
        return tuple(spec.name for spec in self.fields)

    @property
    def declared(self) -> frozenset[str]:
        """Every field the schema names: the expected ones and the optional ones."""
        return self.optional.union(self.names)


BUILTIN_SCHEMA = Schema(
    fields=(
        FieldSpec(ID_FIELD, "string"),
        FieldSpec("total_amount", "number"),
        FieldSpec("vendor_id", "string"),
        FieldSpec("status", "string"),
    ),
    optional=frozenset(
        {"vendor_name", "currency", "issue_date", "billing_address", "last_modified"}
    ),
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
    if enum is not None and not all(FieldSpec(name, type_name).accepts(v) for v in enum):
        raise SchemaError(f"field {name!r}: every enum value must be a {type_name}")
    return FieldSpec(name, type_name, frozenset(enum) if enum is not None else None)


def parse_schema(document: Any) -> Schema:
    """Build a Schema from a decoded schema document.

    Accepted shapes: `{"fields": {"name": "string" | {"type": ..., "enum": [...]}, ...}}`,
    or a JSON Schema subset `{"properties": {...}, "required": [...]}` (only the required
    properties are expected, the others are optional). An `"optional": [names]` list
    declares further fields a record may carry. `invoice_id` is always expected as a string.
    """
    if not isinstance(document, Mapping):
        raise SchemaError("schema must be a JSON object")
    optional: frozenset[str] = frozenset()
    if "fields" in document:
        declared = document["fields"]
        if not isinstance(declared, Mapping):
            raise SchemaError('"fields" must be an object of field name to type')
        items = list(declared.items())
    elif "properties" in document:
        props = document["properties"]
        required = document.get("required", list(props) if isinstance(props, Mapping) else [])
        if not isinstance(props, Mapping) or not isinstance(required, list):
            raise SchemaError('"properties" must be an object and "required" a list')
        missing = [name for name in required if name not in props]
        if missing:
            raise SchemaError(f"required fields without a declared type: {missing}")
        items = [(name, props[name]) for name in required]
        optional = frozenset(str(name) for name in props if name not in required)
    else:
        raise SchemaError('schema needs "fields" or "properties"')
    fields = [_field(str(name), spec) for name, spec in items]
    if not any(f.name == ID_FIELD for f in fields):
        fields.insert(0, FieldSpec(ID_FIELD, "string"))
    id_spec = next(f for f in fields if f.name == ID_FIELD)
    if id_spec.type != "string":
        raise SchemaError(f"{ID_FIELD} must be declared as a string")
    extra = document.get("optional", [])
    if not isinstance(extra, list) or not all(isinstance(name, str) for name in extra):
        raise SchemaError('"optional" must be a list of field names')
    return Schema(fields=tuple(fields), optional=optional.union(extra))


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
