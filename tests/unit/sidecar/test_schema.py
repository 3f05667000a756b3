"""Schema: built-in fields, schema files in both accepted shapes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidecar_fn.drift import drifted_fields
from sidecar_fn.errors import SchemaError
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
