"""The Salesforce field mapping: built-in invoice fields, schema-named fields, merging."""

from __future__ import annotations

from typing import Any

import pytest
from chalicelib.catalogue import pristine_invoice
from chalicelib.salesforce_fields import FIELDS, sobject

from sidecar_fn.errors import SchemaError, Unrepairable
from sidecar_fn.repair import merge
from sidecar_fn.salesforce_fields import field_mapping, iso_datetime
from sidecar_fn.schema import BUILTIN_SCHEMA, load_schema, parse_schema

FULL = load_schema("sidecar_fn/schemas/invoice_full.json")


def salesforce_record(number: int) -> dict[str, Any]:
    """What the farm's Salesforce routes answer for invoice `number`."""
    return sobject(number, tuple(FIELDS), "59.0")


@pytest.mark.parametrize("number", [1, 2, 5, 77, 999_999])
def test_a_mapped_record_equals_the_farm_invoice(number: int) -> None:
    mapping = field_mapping(FULL, "Invoice_Number__c")
    assert mapping.to_record(salesforce_record(number)) == pristine_invoice(number)


def test_the_select_list_is_id_external_id_then_each_field_once() -> None:
    mapping = field_mapping(FULL, "Invoice_Number__c")
    assert mapping.select[:2] == ("Id", "Invoice_Number__c")
    assert len(mapping.select) == len(set(mapping.select))
    assert set(mapping.select) <= set(FIELDS)
    assert field_mapping(BUILTIN_SCHEMA, "Invoice_Number__c").select == (
        "Id",
        "Invoice_Number__c",
        "Total_Amount__c",
        "Vendor_Id__c",
        "Status__c",
    )


def test_schema_fields_may_name_their_salesforce_fields() -> None:
    schema = parse_schema(
        {
            "fields": {
                "vendor_id": {"type": "string", "salesforce": "Supplier__c"},
                "address": {"type": "object", "salesforce": {"parts": {"town": "City__c"}}},
                "changed": {
                    "type": "string",
                    "salesforce": {"field": "SystemModstamp", "format": "datetime"},
                },
            }
        }
    )
    mapping = field_mapping(schema, "External__c")
    record = mapping.to_record(
        {
            "External__c": "INV-3",
            "Supplier__c": "S-1",
            "City__c": "Bern",
            "SystemModstamp": "2026-01-02T03:04:05.250+0100",
        }
    )
    assert record == {
        "invoice_id": "INV-3",
        "vendor_id": "S-1",
        "address": {"town": "Bern"},
        "changed": "2026-01-02T02:04:05.250Z",
    }
    assert mapping.select == ("Id", "External__c", "Supplier__c", "City__c", "SystemModstamp")


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "Bad Name",
        "x;DROP",
        "__c",
        7,
        {"field": "A__c", "format": "date"},
        {"parts": {}},
        {"parts": {"a": "b c"}},
        {"other": 1},
        ["A__c"],
        "A" * 81,
    ],
)
def test_bad_salesforce_specs_are_schema_errors(spec: Any) -> None:
    schema = parse_schema({"fields": {"vendor_id": {"type": "string", "salesforce": spec}}})
    with pytest.raises(SchemaError, match="vendor_id"):
        field_mapping(schema, "Invoice_Number__c")


def test_a_field_without_a_known_source_is_a_schema_error() -> None:
    schema = parse_schema({"fields": {"po_number": "string"}})
    with pytest.raises(SchemaError, match="po_number"):
        field_mapping(schema, "Invoice_Number__c")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-15T11:13:05.000+0000", "2026-03-15T11:13:05Z"),
        ("2026-03-15T11:13:05.120+0000", "2026-03-15T11:13:05.120Z"),
        ("2026-03-15T00:13:05.000+0100", "2026-03-14T23:13:05Z"),
        ("2026-03-15T11:13:05Z", None),
        ("2026-03-15", None),
        (None, None),
        (20260315, None),
    ],
)
def test_salesforce_datetimes_become_iso_utc(value: Any, expected: Any) -> None:
    assert iso_datetime(value) == expected


def test_mapped_records_merge_exactly_as_farm_answers() -> None:
    mapping = field_mapping(FULL, "Invoice_Number__c")
    drifted = pristine_invoice(5)
    del drifted["vendor_id"]
    drifted["billing_address"] = None
    drifted["status"] = "PAID-ish"
    from_salesforce = merge(
        drifted, ("vendor_id", "billing_address"), mapping.to_record(salesforce_record(5)), FULL
    )
    from_farm = merge(drifted, ("vendor_id", "billing_address"), pristine_invoice(5), FULL)
    assert from_salesforce == from_farm
    assert from_salesforce["status"] == "PAID-ish"


def test_the_same_id_rule_and_missing_values_hold_for_mapped_records() -> None:
    mapping = field_mapping(FULL, "Invoice_Number__c")
    other = mapping.to_record(salesforce_record(6))
    with pytest.raises(Unrepairable, match="refused"):
        merge({"invoice_id": "INV-5"}, ("vendor_id",), other, FULL)
    blank = salesforce_record(5)
    blank["Vendor_Id__c"] = None
    with pytest.raises(Unrepairable, match="vendor_id"):
        merge({"invoice_id": "INV-5"}, ("vendor_id",), mapping.to_record(blank), FULL)
