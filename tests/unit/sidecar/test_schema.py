"""Schema: built-in fields, schema files in both accepted shapes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidecar_fn.drift import drifted_fields
from sidecar_fn.errors import SchemaError, Unrepairable
from sidecar_fn.repair import merge
from sidecar_fn.schema import BUILTIN_SCHEMA, FieldSpec, load_schema, parse_schema

from .fakes import pristine


def test_builtin_schema_expects_the_four_invoice_fields() -> None:
    assert load_schema(None) is BUILTIN_SCHEMA
    assert BUILTIN_SCHEMA.names == ("invoice_id", "total_amount", "vendor_id", "status")


@pytest.mark.parametrize(
    ("type_name", "good", "bad"),
    [
        ("string", "x", 1),
        ("number", 1.5, "1.5"),
        ("number", 3, True),
        ("integer", 3, 3.0),
        ("boolean", False, 0),
        ("object", {"a": 1}, [1]),
        ("array", [1], {"a": 1}),
    ],
)
def test_field_types(type_name: str, good: object, bad: object) -> None:
    spec = FieldSpec("f", type_name)
    assert spec.accepts(good)
    assert not spec.accepts(bad)
    assert not spec.accepts(None)


def test_fields_shape_with_enum(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text(
        json.dumps(
            {
                "fields": {
                    "vendor_id": "string",
                    "status": {"type": "string", "enum": ["PAID", "VOID"]},
                    "billing_address": {"type": "object"},
                }
            }
        )
    )
    schema = load_schema(str(path))
    assert schema.names == ("invoice_id", "vendor_id", "status", "billing_address")
    status = schema.fields[2]
    assert status.accepts("PAID")
    assert not status.accepts("LOST")


def test_json_schema_shape_expects_required_properties_only() -> None:
    schema = parse_schema(
        {
            "type": "object",
            "properties": {
                "invoice_id": {"type": "string"},
                "total_amount": {"type": "number"},
                "memo": {"type": "string"},
            },
            "required": ["invoice_id", "total_amount"],
        }
    )
    assert schema.names == ("invoice_id", "total_amount")


@pytest.mark.parametrize(
    "document",
    [
        [],
        {},
        {"fields": []},
        {"fields": {"x": "uuid"}},
        {"fields": {"x": {"type": "string", "enum": []}}},
        {"fields": {"invoice_id": "number"}},
        {"properties": {"a": {"type": "string"}}, "required": ["b"]},
    ],
)
def test_invalid_schema_documents(document: object) -> None:
    with pytest.raises(SchemaError):
        parse_schema(document)


def test_unreadable_schema_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_schema(str(bad))


def test_shipped_full_invoice_schema() -> None:
    path = Path(__file__).resolve().parents[3] / "sidecar_fn" / "schemas" / "invoice_full.json"
    schema = load_schema(str(path))
    assert "billing_address" in schema.names
    assert drifted_fields(pristine("INV-12"), schema) == ()
    record = {**pristine("INV-12"), "billing_address": None, "status": "LOST"}
    assert drifted_fields(record, schema) == ("status", "billing_address")


def test_a_type_list_with_null_accepts_null_but_not_absence() -> None:
    schema = parse_schema(
        {
            "properties": {
                "invoice_id": {"type": "string"},
                "memo": {"type": ["string", "null"]},
            },
            "required": ["invoice_id", "memo"],
        }
    )
    assert drifted_fields({"invoice_id": "INV-1", "memo": None}, schema) == ()
    assert drifted_fields({"invoice_id": "INV-1", "memo": "x"}, schema) == ()
    assert drifted_fields({"invoice_id": "INV-1"}, schema) == ("memo",)
    assert drifted_fields({"invoice_id": "INV-1", "memo": 3}, schema) == ("memo",)


def test_string_constraints() -> None:
    schema = parse_schema(
        {
            "fields": {
                "vendor_id": {"type": "string", "minLength": 4, "pattern": "^VEND-[0-9]{6}$"},
                "currency": {"type": "string", "minLength": 3, "maxLength": 3},
            }
        }
    )
    good = {"invoice_id": "INV-1", "vendor_id": "VEND-000066", "currency": "EUR"}
    assert drifted_fields(good, schema) == ()
    assert drifted_fields({**good, "vendor_id": ""}, schema) == ("vendor_id",)
    assert drifted_fields({**good, "vendor_id": "V-66x"}, schema) == ("vendor_id",)
    assert drifted_fields({**good, "currency": "EURO"}, schema) == ("currency",)
    assert drifted_fields({**good, "currency": "EU"}, schema) == ("currency",)


def test_a_pattern_is_searched_not_anchored_as_in_json_schema() -> None:
    spec = parse_schema({"fields": {"vendor_id": {"type": "string", "pattern": "[0-9]"}}})
    assert spec.fields[1].accepts("abc1def")
    assert not spec.fields[1].accepts("abcdef")


def test_numeric_bounds() -> None:
    schema = parse_schema(
        {
            "fields": {
                "total_amount": {"type": "number", "minimum": 0, "exclusiveMaximum": 1e6},
                "lines": {"type": "integer", "exclusiveMinimum": 0, "maximum": 500},
            }
        }
    )
    good = {"invoice_id": "INV-1", "total_amount": 0, "lines": 1}
    assert drifted_fields(good, schema) == ()
    assert drifted_fields({**good, "total_amount": -0.01}, schema) == ("total_amount",)
    assert drifted_fields({**good, "total_amount": 1e6}, schema) == ("total_amount",)
    assert drifted_fields({**good, "lines": 0}, schema) == ("lines",)
    assert drifted_fields({**good, "lines": 501}, schema) == ("lines",)
    assert drifted_fields({**good, "lines": True}, schema) == ("lines",)


def test_enum_with_null() -> None:
    schema = parse_schema(
        {"fields": {"status": {"type": ["string", "null"], "enum": ["PAID", None]}}}
    )
    assert drifted_fields({"invoice_id": "INV-1", "status": None}, schema) == ()
    assert drifted_fields({"invoice_id": "INV-1", "status": "VOID"}, schema) == ("status",)


def test_repair_takes_only_a_source_value_that_meets_the_constraints() -> None:
    schema = parse_schema({"fields": {"vendor_id": {"type": "string", "pattern": "^VEND-"}}})
    record = {"invoice_id": "INV-1"}
    assert merge(record, ("vendor_id",), {"invoice_id": "INV-1", "vendor_id": "VEND-1"}, schema)
    with pytest.raises(Unrepairable, match="lacks a valid vendor_id"):
        merge(record, ("vendor_id",), {"invoice_id": "INV-1", "vendor_id": "X-1"}, schema)


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"fields": {"billing_address": {"type": "object", "properties": {}}}}, "properties"),
        ({"fields": {"issue_date": {"type": "string", "format": "date"}}}, "format"),
        ({"fields": {"tags": {"type": "array", "items": {"type": "string"}}}}, "items"),
        (
            {"properties": {"invoice_id": {"type": "string"}}, "additionalProperties": False},
            "additionalProperties",
        ),
        ({"fields": {}, "definitions": {}}, "definitions"),
        (
            {
                "properties": {
                    "invoice_id": {"type": "string"},
                    "x": {"type": "string", "oneOf": []},
                },
                "required": ["invoice_id"],
            },
            "oneOf",
        ),
    ],
)
def test_unsupported_keywords_are_refused_by_name(document: object, named: str) -> None:
    with pytest.raises(SchemaError, match=f"unsupported keyword\\(s\\) {named}"):
        parse_schema(document)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"type": ["string", "number"]}, "a list of one of them"),
        ({"type": ["null"]}, "a list of one of them"),
        ({"type": "number", "minLength": 1}, "minLength applies to strings"),
        ({"type": "string", "minimum": 1}, "minimum applies to numbers"),
        ({"type": "string", "minLength": -1}, "non-negative integer"),
        ({"type": "string", "pattern": "("}, "is invalid"),
        ({"type": "number", "maximum": "10"}, "maximum must be a number"),
    ],
)
def test_bad_constraints_are_clear_errors(spec: dict[str, object], fragment: str) -> None:
    with pytest.raises(SchemaError, match=fragment):
        parse_schema({"fields": {"x": spec}})


def test_invoice_id_may_not_be_nullable() -> None:
    with pytest.raises(SchemaError, match="not null"):
        parse_schema({"fields": {"invoice_id": {"type": ["string", "null"]}}})


def test_annotations_are_accepted() -> None:
    schema = parse_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Invoice",
            "type": "object",
            "properties": {"invoice_id": {"type": "string", "description": "id"}},
            "required": ["invoice_id"],
        }
    )
    assert schema.names == ("invoice_id",)
