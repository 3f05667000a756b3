"""Per-field drift kinds, alias recognition, certain local repairs and verification sampling."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar_fn.aliases import AliasIndex, normalise, remove_path
from sidecar_fn.drift import drifted_fields
from sidecar_fn.drift_kinds import (
    CASE,
    EMPTY,
    INVALID,
    MISSING,
    NULL,
    RENAMED,
    WRONG_TYPE,
    FieldDrift,
    classify,
    unexpected_fields,
)
from sidecar_fn.errors import SchemaError
from sidecar_fn.local_repair import exact_number, repair_locally
from sidecar_fn.schema import BUILTIN_SCHEMA, FieldSpec, Schema, parse_schema
from sidecar_fn.verify import disagreements, same_value, selected

from .fakes import pristine

SPECS = {spec.name: spec for spec in BUILTIN_SCHEMA.fields}
INDEX = AliasIndex.from_schema(BUILTIN_SCHEMA)


def kinds_of(record: dict[str, Any], schema: Schema = BUILTIN_SCHEMA) -> dict[str, FieldDrift]:
    specs = {spec.name: spec for spec in schema.fields}
    return classify(record, drifted_fields(record, schema), specs, AliasIndex.from_schema(schema))


def drifted(**change: Any) -> dict[str, Any]:
    record = pristine("INV-7")
    for name, value in change.items():
        if value is ...:
            del record[name]
        else:
            record[name] = value
    return record


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"vendor_id": ...}, "vendor_id", MISSING),
        ({"vendor_id": None}, "vendor_id", NULL),
        ({"vendor_id": ""}, "vendor_id", EMPTY),
        ({"status": ""}, "status", EMPTY),
        ({"total_amount": "16.46"}, "total_amount", WRONG_TYPE),
        ({"total_amount": True}, "total_amount", WRONG_TYPE),
        ({"vendor_id": 42}, "vendor_id", WRONG_TYPE),
        ({"status": "paid"}, "status", CASE),
        ({"status": "Void"}, "status", CASE),
        ({"status": "LOST"}, "status", INVALID),
    ],
)
def test_each_kind_of_a_value_under_its_own_name(
    change: dict[str, Any], field: str, kind: str
) -> None:
    assert kinds_of(drifted(**change)) == {field: FieldDrift(kind)}


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        ("vendorId", "VEND-1", ("vendorId",)),
        ("VendorID", "VEND-1", ("VendorID",)),
        ("VENDOR_ID", "VEND-1", ("VENDOR_ID",)),
        ("vendor-id", "VEND-1", ("vendor-id",)),
        ("vendor", {"id": "VEND-1"}, ("vendor", "id")),
        ("Vendor", {"ID": "VEND-1"}, ("Vendor", "ID")),
    ],
)
def test_common_renames_are_recognised(key: str, value: Any, path: tuple[str, ...]) -> None:
    record = drifted(vendor_id=..., **{key: value})
    assert kinds_of(record) == {"vendor_id": FieldDrift(RENAMED, path)}


def test_a_renamed_value_wins_over_a_null_or_empty_canonical() -> None:
    assert kinds_of(drifted(vendor_id="", vendorId="V")) == {
        "vendor_id": FieldDrift(RENAMED, ("vendorId",))
    }


def test_two_candidates_are_not_certain() -> None:
    record = drifted(vendor_id=..., vendorId="A", VendorID="B")
    assert kinds_of(record) == {"vendor_id": FieldDrift(MISSING)}


def test_known_fields_are_never_aliases_and_normal_names_that_clash_are_dropped() -> None:
    schema = Schema(
        fields=(
            FieldSpec("invoice_id", "string"),
            FieldSpec("a_b", "string"),
            FieldSpec("ab", "string"),
        ),
        known=frozenset({"vendor_name"}),
    )
    index = AliasIndex.from_schema(schema)
    assert "ab" not in index.by_normal_name
    assert index.candidates({"vendor_name": "x", "aB": "y"}, ["a_b", "ab"]) == {}


def test_declared_aliases_in_a_schema_file() -> None:
    schema = parse_schema(
        {"fields": {"vendor_id": {"type": "string", "aliases": ["supplier", "party.ref"]}}}
    )
    record = {"invoice_id": "INV-1", "party": {"ref": "VEND-9", "name": "x"}}
    assert kinds_of(record, schema) == {"vendor_id": FieldDrift(RENAMED, ("party", "ref"))}
    repaired = repair_locally(
        record, kinds_of(record, schema), {s.name: s for s in schema.fields}, ()
    )
    assert repaired.record == {"invoice_id": "INV-1", "party": {"name": "x"}, "vendor_id": "VEND-9"}
    assert repaired.repairs == {"vendor_id": "renamed:party.ref"}
    assert record["party"] == {"ref": "VEND-9", "name": "x"}


@pytest.mark.parametrize("aliases", ["x", [""], [".a"], [1]])
def test_bad_aliases_are_a_schema_error(aliases: Any) -> None:
    with pytest.raises(SchemaError, match="aliases"):
        parse_schema({"fields": {"vendor_id": {"type": "string", "aliases": aliases}}})


def test_min_length_zero_lets_an_empty_string_pass() -> None:
    schema = parse_schema({"fields": {"vendor_id": {"type": "string", "minLength": 0}}})
    assert drifted_fields({"invoice_id": "INV-1", "vendor_id": ""}, schema) == ()
    assert drifted_fields({"invoice_id": "INV-1", "vendor_id": ""}, BUILTIN_SCHEMA) != ()


def test_zero_and_false_still_pass_their_types() -> None:
    record = drifted(total_amount=0)
    assert drifted_fields(record, BUILTIN_SCHEMA) == ()


def test_unexpected_fields_are_those_no_schema_field_names() -> None:
    assert unexpected_fields(pristine("INV-1"), BUILTIN_SCHEMA) == []
    assert unexpected_fields({**pristine("INV-1"), "po_number": 1}, BUILTIN_SCHEMA) == ["po_number"]
    assert unexpected_fields({"x": 1}, Schema(fields=(FieldSpec("invoice_id", "string"),))) == []
    schema = parse_schema({"fields": {"vendor_id": "string"}, "known_fields": ["note"]})
    assert unexpected_fields({"invoice_id": "I", "vendor_id": "V", "note": 1, "y": 2}, schema) == [
        "y"
    ]


def test_normalise_ignores_case_and_separators() -> None:
    assert {normalise(n) for n in ("vendor_id", "vendorId", "Vendor-ID", "vendor id")} == {
        "vendorid"
    }


def test_remove_path_drops_an_emptied_parent() -> None:
    record: dict[str, Any] = {"vendor": {"id": "V"}, "total": {"amount": 1, "tax": 2}}
    remove_path(record, ("vendor", "id"))
    remove_path(record, ("total", "amount"))
    assert record == {"total": {"tax": 2}}


@pytest.mark.parametrize(
    ("text", "type_name", "number"),
    [
        ("16.46", "number", 16.46),
        ("424230", "number", 424230),
        ("-3", "integer", -3),
        ("11585.0", "number", 11585.0),
        ("1e5", "number", 100000.0),
        ("0.1", "number", 0.1),
        ("16.460", "number", 16.46),
    ],
)
def test_numbers_that_parse_exactly(text: str, type_name: str, number: float) -> None:
    parsed = exact_number(text, type_name)
    assert parsed == number and type(parsed) is type(number)


@pytest.mark.parametrize(
    ("text", "type_name"),
    [
        ("16.46", "integer"),
        (" 16", "number"),
        ("1_000", "number"),
        ("nan", "number"),
        ("inf", "number"),
        ("0x10", "number"),
        ("01", "number"),
        ("+1", "number"),
        ("1,5", "number"),
        ("", "number"),
        ("0.10000000000000000001", "number"),
        ("1e999", "number"),
        ("16.46 USD", "number"),
    ],
)
def test_numbers_that_do_not_parse_exactly(text: str, type_name: str) -> None:
    assert exact_number(text, type_name) is None


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53))
def test_a_json_number_written_as_text_parses_back_to_itself(number: float) -> None:
    text = repr(number) if isinstance(number, float) else str(number)
    parsed = exact_number(text, "number")
    assert parsed == number and type(parsed) is type(number)


@pytest.mark.parametrize(
    ("change", "repairs", "fixed"),
    [
        ({"vendor_id": ..., "vendorId": "VEND-0007"}, {"vendor_id": "renamed:vendorId"}, {}),
        ({"vendor_id": ..., "vendor": {"id": "VEND-0007"}}, {"vendor_id": "renamed:vendor.id"}, {}),
        ({"total_amount": "8.75"}, {"total_amount": "coerced:string"}, {"total_amount": 8.75}),
        ({"status": "approved"}, {"status": "case"}, {"status": "APPROVED"}),
        (
            {"total_amount": ..., "totalAmount": "8.75"},
            {"total_amount": "renamed:totalAmount"},
            {"total_amount": 8.75},
        ),
    ],
)
def test_certain_repairs_are_made_locally(
    change: dict[str, Any], repairs: dict[str, str], fixed: dict[str, Any]
) -> None:
    record = drifted(**change)
    result = repair_locally(record, kinds_of(record), SPECS, ())
    assert result.repairs == repairs
    assert result.remaining == []
    assert result.record == pristine("INV-7")


@pytest.mark.parametrize(
    "change",
    [
        {"vendor_id": ...},
        {"vendor_id": None},
        {"vendor_id": ""},
        {"total_amount": "about 8"},
        {"status": "LOST"},
        {"vendor_id": ..., "vendorId": ""},
    ],
)
def test_everything_else_is_left_to_the_source(change: dict[str, Any]) -> None:
    record = drifted(**change)
    result = repair_locally(record, kinds_of(record), SPECS, ())
    assert result.repairs == {}
    assert result.remaining == list(drifted_fields(record, BUILTIN_SCHEMA))
    assert "vendorId" not in result.record


def test_a_field_switched_off_goes_to_the_source() -> None:
    record = drifted(total_amount="8.75", status="paid")
    result = repair_locally(record, kinds_of(record), SPECS, {"total_amount"})
    assert result.repairs == {"status": "case"}
    assert result.remaining == ["total_amount"]


def test_verification_sampling_is_by_item_id() -> None:
    ids = [f"item-{n}" for n in range(4000)]
    chosen = [i for i in ids if selected(i, 0.05)]
    assert 0.03 < len(chosen) / len(ids) < 0.07
    assert chosen == [i for i in ids if selected(i, 0.05)]
    assert all(selected(i, 1.0) for i in ids[:50])
    assert not any(selected(i, 0.0) for i in ids[:50])


def test_disagreements_use_json_equality() -> None:
    assert same_value(16, 16.0) and not same_value(True, 1) and not same_value("1", 1)
    found = disagreements({"a": 1, "b": "X"}, ["a", "b"], {"a": 1.0, "b": "Y"})
    assert [(d.field, d.local, d.source) for d in found] == [("b", "X", "Y")]
