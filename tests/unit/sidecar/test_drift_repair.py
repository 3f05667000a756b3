"""Pure drift classification and repair merge."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar_fn.drift import drifted_fields, lookup_problem, valid_invoice_id
from sidecar_fn.errors import Unrepairable
from sidecar_fn.repair import merge
from sidecar_fn.schema import BUILTIN_SCHEMA

from .fakes import pristine

COMPLETE = {"invoice_id": "INV-7", "total_amount": 10.5, "vendor_id": "V-1", "status": "PAID"}


def test_complete_record_has_no_drift() -> None:
    assert drifted_fields(COMPLETE, BUILTIN_SCHEMA) == ()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"vendor_id": None}, ("vendor_id",)),
        ({"vendor_id": 12}, ("vendor_id",)),
        ({"total_amount": "10.5"}, ("total_amount",)),
        ({"total_amount": True}, ("total_amount",)),
        ({"status": None, "vendor_id": None}, ("vendor_id", "status")),
    ],
)
def test_null_or_wrong_type_is_drift(change: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert drifted_fields({**COMPLETE, **change}, BUILTIN_SCHEMA) == expected


def test_missing_fields_are_drift_in_schema_order() -> None:
    record = {"status": "PAID", "invoice_id": "INV-7"}
    assert drifted_fields(record, BUILTIN_SCHEMA) == ("total_amount", "vendor_id")


@pytest.mark.parametrize(
    "value",
    ["INV-1", "INV-123456789012"],
)
def test_valid_invoice_ids(value: str) -> None:
    assert valid_invoice_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "INV-",
        "INV-1234567890123",
        "inv-1",
        "INV-1\n",
        "INV-1 ",
        "../INV-1",
        "INV-1%2F",
        "INV-1,INV-2",
        "INV-\u0661\u0662\u0663",
        "INV-\uff11",
        "INV-1\x00",
        7,
        None,
    ],
)
def test_hostile_invoice_ids_are_refused(value: object) -> None:
    assert not valid_invoice_id(value)


def expected_valid(value: str) -> bool:
    digits = value[4:]
    return (
        value.startswith("INV-") and digits.isascii() and digits.isdigit() and len(digits) <= 12
    ) and len(digits) >= 1


near_ids = st.builds(
    lambda prefix, digits, suffix: prefix + digits + suffix,
    st.sampled_from(["INV-", "INV-", "INV-", "inv-", "INV", "INV--", " INV-", "INV_"]),
    st.text(alphabet=st.sampled_from("0123456789") | st.characters(categories=["Nd"]), max_size=14),
    st.sampled_from(["", "", "", "\n", " ", "/", ",INV-2", "\x00"]),
)


@given(near_ids | st.text(max_size=30))
def test_accepted_ids_are_exactly_ascii_inv_and_1_to_12_digits(value: str) -> None:
    assert valid_invoice_id(value) == expected_valid(value)


def test_the_id_property_reaches_both_answers() -> None:
    seen: set[bool] = set()

    @settings(max_examples=300, derandomize=True, database=None)
    @given(near_ids)
    def record(value: str) -> None:
        seen.add(valid_invoice_id(value))

    record()
    assert seen == {True, False}


def test_lookup_problem() -> None:
    assert lookup_problem({"invoice_id": "INV-3"}) is None
    assert "no invoice_id" in (lookup_problem({}) or "")
    assert "invalid invoice_id" in (lookup_problem({"invoice_id": "x" * 500}) or "")
    assert len(lookup_problem({"invoice_id": "x" * 500}) or "") < 200


def test_merge_fills_exactly_the_drifted_fields() -> None:
    record = {"invoice_id": "INV-5", "total_amount": 1.0, "status": None, "memo": "kept"}
    truth = pristine("INV-5")
    repaired = merge(record, ("vendor_id", "status"), truth, BUILTIN_SCHEMA)
    assert repaired["vendor_id"] == truth["vendor_id"]
    assert repaired["status"] == truth["status"]
    assert repaired["total_amount"] == 1.0
    assert repaired["memo"] == "kept"
    assert "vendor_name" not in repaired
    assert record["status"] is None


def test_merge_never_overwrites_present_valid_fields() -> None:
    record = {"invoice_id": "INV-5", "total_amount": 999.0, "status": "VOID"}
    repaired = merge(record, ("vendor_id",), pristine("INV-5"), BUILTIN_SCHEMA)
    assert repaired["total_amount"] == 999.0
    assert repaired["status"] == "VOID"


def test_merge_refuses_unknown_other_or_lacking_source() -> None:
    record = {"invoice_id": "INV-5", "total_amount": 1, "status": "PAID"}
    with pytest.raises(Unrepairable, match="unknown"):
        merge(record, ("vendor_id",), None, BUILTIN_SCHEMA)
    with pytest.raises(Unrepairable, match="INV-6"):
        merge(record, ("vendor_id",), pristine("INV-6"), BUILTIN_SCHEMA)
    lacking = {**pristine("INV-5"), "vendor_id": None}
    with pytest.raises(Unrepairable, match="lacks a valid vendor_id"):
        merge(record, ("vendor_id",), lacking, BUILTIN_SCHEMA)
