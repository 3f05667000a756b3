"""Expected record schema: the built-in invoice fields or a JSON schema file (AOS_SCHEMA)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sidecar_fn.errors import SchemaError

ID_FIELD = "invoice_id"
MISSING: Any = object()
"""What to look a field up with (`record.get(name, MISSING)`): an absent field is never
accepted, even where null is."""

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
    """One expected field: its JSON type, whether null is allowed, optional constraints
    (enum, string length and pattern, numeric bounds), the other names it may arrive under
    (`aliases`, a dotted name for one level of nesting) and the Salesforce field(s) it is
    read from. An empty string is drift unless the field declares `"minLength": 0`."""

    name: str
    type: str
    enum: frozenset[Any] | None = None
    nullable: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    aliases: tuple[str, ...] = ()
    salesforce: Any = field(default=None, compare=False)
    """The Salesforce field(s) this field is read from, as the schema names them (see
    `salesforce_fields`); None for the built-in mapping."""

    @property
    def allow_empty(self) -> bool:
        """True when an empty string passes (the field declares `"minLength": 0`)."""
        return self.min_length == 0

    @property
    def constrained(self) -> bool:
        """True when a value of the right type may still be refused (beyond the enum)."""
        return self.nullable or any(
            bound is not None
            for bound in (
                self.min_length,
                self.max_length,
                self.pattern,
                self.minimum,
                self.maximum,
                self.exclusive_minimum,
                self.exclusive_maximum,
            )
        )

    def accepts(self, value: Any) -> bool:
        """True when `value` is present, of the declared type (or null where allowed), in
        the enum and within the declared constraints."""
        if value is None:
            return self.nullable and (self.enum is None or None in self.enum)
        if isinstance(value, bool) and self.type != "boolean":
            return False
        if not isinstance(value, _TYPES[self.type]):
            return False
        if self.enum is not None and value not in self.enum:
            return False
        if isinstance(value, str):
            return self._accepts_text(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._accepts_number(value)
        return True

    def _accepts_text(self, value: str) -> bool:
        if not value and self.min_length != 0:
            return False
        if self.min_length is not None and len(value) < self.min_length:
            return False
        if self.max_length is not None and len(value) > self.max_length:
            return False
        return self.pattern is None or self.pattern.search(value) is not None

    def _accepts_number(self, value: float) -> bool:
        if self.minimum is not None and value < self.minimum:
            return False
        if self.maximum is not None and value > self.maximum:
            return False
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            return False
        return self.exclusive_maximum is None or value < self.exclusive_maximum


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
        # A constrained field has no fast path: every value goes through `accepts`.
        checks = tuple(
            (f.name, frozenset() if f.constrained else _EXACT[f.type], f.enum, f)
            for f in self.fields
        )
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


_ANNOTATIONS = frozenset(
    {"title", "description", "$comment", "examples", "default", "deprecated", "readOnly"}
)
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern"})
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_FIELD_KEYWORDS = (
    frozenset({"type", "enum", "aliases", "salesforce"})
    | _STRING_KEYWORDS
    | _NUMBER_KEYWORDS
    | _ANNOTATIONS
)
_DOCUMENT_KEYWORDS = frozenset({"$schema", "$id", "type", "properties", "required"}) | _ANNOTATIONS


def _unsupported(where: str, keywords: Any, allowed: frozenset[str]) -> None:
    unknown = sorted(str(k) for k in keywords if k not in allowed)
    if unknown:
        raise SchemaError(
            f"{where}: unsupported keyword(s) {', '.join(unknown)}; supported:"
            f" {', '.join(sorted(allowed - _ANNOTATIONS))} (and annotations such as description)"
        )


def _type_of(name: str, declared: Any) -> tuple[str, bool]:
    """The field's type name and whether null is allowed (`["string", "null"]`)."""
    names = declared if isinstance(declared, list) else [declared]
    nullable = "null" in names
    others = [n for n in names if n != "null"]
    if len(others) != 1 or others[0] not in _TYPES or len(names) != len(set(names)):
        raise SchemaError(
            f"field {name!r}: type must be one of {sorted(_TYPES)}, or a list of one of them"
            f' and "null", not {declared!r}'
        )
    return others[0], nullable


def _non_negative_int(name: str, keyword: str, value: Any) -> int:
    if type(value) is not int or value < 0:
        raise SchemaError(f"field {name!r}: {keyword} must be a non-negative integer")
    return value


def _bound(name: str, keyword: str, value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise SchemaError(f"field {name!r}: {keyword} must be a number")
    return value


def _constraints(name: str, type_name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The string or numeric constraints of a field, checked against its type."""
    found: dict[str, Any] = {}
    used = [k for k in (*_STRING_KEYWORDS, *_NUMBER_KEYWORDS) if k in spec]
    for keyword in used:
        if keyword in _STRING_KEYWORDS and type_name != "string":
            raise SchemaError(f"field {name!r}: {keyword} applies to strings, not {type_name}")
        if keyword in _NUMBER_KEYWORDS and type_name not in {"number", "integer"}:
            raise SchemaError(f"field {name!r}: {keyword} applies to numbers, not {type_name}")
    if "minLength" in spec:
        found["min_length"] = _non_negative_int(name, "minLength", spec["minLength"])
    if "maxLength" in spec:
        found["max_length"] = _non_negative_int(name, "maxLength", spec["maxLength"])
    if "pattern" in spec:
        pattern = spec["pattern"]
        if not isinstance(pattern, str):
            raise SchemaError(f"field {name!r}: pattern must be a string")
        try:
            found["pattern"] = re.compile(pattern)
        except re.error as exc:
            raise SchemaError(f"field {name!r}: pattern {pattern!r} is invalid: {exc}") from None
    for keyword, attribute in (
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("exclusiveMinimum", "exclusive_minimum"),
        ("exclusiveMaximum", "exclusive_maximum"),
    ):
        if keyword in spec:
            found[attribute] = _bound(name, keyword, spec[keyword])
    return found


def _field(name: str, spec: Any) -> FieldSpec:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping):
        raise SchemaError(f"field {name!r}: expected a type name or an object")
    _unsupported(f"field {name!r}", spec, _FIELD_KEYWORDS)
    type_name, nullable = _type_of(name, spec.get("type"))
    enum = spec.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        raise SchemaError(f"field {name!r}: enum must be a non-empty list")
    if enum is not None and type_name in {"object", "array"}:
        raise SchemaError(f"field {name!r}: enum is only for scalar types")
    constraints = _constraints(name, type_name, spec)
    if enum is not None and not all(
        FieldSpec(name, type_name, nullable=nullable, min_length=0).accepts(v) for v in enum
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
        nullable,
        aliases=tuple(aliases),
        salesforce=spec.get("salesforce"),
        **constraints,
    )


def _alias_ok(alias: Any) -> bool:
    return isinstance(alias, str) and all(part for part in alias.split(".", 1))


def parse_schema(document: Any) -> Schema:
    """Build a Schema from a decoded schema document.

    Accepted shapes: `{"fields": {"name": "string" | {"type": ..., "enum": [...]}, ...}}`
    (with an optional `"known_fields": [...]` list of optional fields; any other field is
    unexpected), or a JSON Schema subset `{"properties": {...}, "required": [...]}` (only
    the required properties are expected; every property is known).

    A field takes `type` (a name, or a list of one name and `"null"`), `enum`,
    `minLength`/`maxLength`/`pattern` (strings; `pattern` is searched, not anchored, as in
    JSON Schema; an empty string is drift unless `"minLength": 0`), `minimum`/`maximum`/
    `exclusiveMinimum`/`exclusiveMaximum` (numbers), `aliases` (other names it may arrive
    under, a dotted name for one level of nesting), `salesforce` (its Salesforce field) and
    annotations; any other keyword (nested `properties`, `format`, `items`, ...) is refused
    with SchemaError naming it, rather than ignored. `invoice_id` is always expected as a
    non-null string. Patterns are compiled here, once.
    """
    if not isinstance(document, Mapping):
        raise SchemaError("schema must be a JSON object")
    if "fields" in document:
        declared = document["fields"]
        if not isinstance(declared, Mapping):
            raise SchemaError('"fields" must be an object of field name to type')
        _unsupported(
            "schema",
            document,
            frozenset({"fields", "known_fields", "$schema", "$id"}) | _ANNOTATIONS,
        )
        fields = [_field(str(name), spec) for name, spec in declared.items()]
        known_list = document.get("known_fields")
        if known_list is not None and (
            not isinstance(known_list, list) or not all(isinstance(n, str) for n in known_list)
        ):
            raise SchemaError('"known_fields" must be a list of field names')
        known = frozenset(known_list or ())
    elif "properties" in document:
        _unsupported("schema", document, _DOCUMENT_KEYWORDS)
        if document.get("type", "object") != "object":
            raise SchemaError('a schema with "properties" must have "type": "object"')
        props = document["properties"]
        required = document.get("required", list(props) if isinstance(props, Mapping) else [])
        if not isinstance(props, Mapping) or not isinstance(required, list):
            raise SchemaError('"properties" must be an object and "required" a list')
        missing = [name for name in required if name not in props]
        if missing:
            raise SchemaError(f"required fields without a declared type: {missing}")
        declared_fields = {str(name): _field(str(name), spec) for name, spec in props.items()}
        fields = [declared_fields[str(name)] for name in required]
        known = frozenset(declared_fields)
    else:
        raise SchemaError('schema needs "fields" or "properties"')
    if not any(f.name == ID_FIELD for f in fields):
        fields.insert(0, FieldSpec(ID_FIELD, "string"))
    id_spec = next(f for f in fields if f.name == ID_FIELD)
    if id_spec.type != "string" or id_spec.nullable:
        raise SchemaError(f"{ID_FIELD} must be declared as a string (not null)")
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
