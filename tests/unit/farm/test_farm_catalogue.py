"""The source of truth: pristine invoices are complete, realistic and deterministic."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from chalicelib.catalogue import STATUSES, VENDORS, Catalogue, pristine_invoice, pristine_json
from chalicelib.errors import FarmError
from hypothesis import given, settings
from hypothesis import strategies as st

FIELDS = {
    "invoice_id",
    "vendor_id",
    "vendor_name",
    "total_amount",
    "currency",
    "status",
    "issue_date",
    "billing_address",
    "last_modified",
}
numbers = st.integers(min_value=1, max_value=999_999_999_999)


@settings(deadline=None)
@given(numbers)
def test_pristine_invoice_is_complete_and_well_typed(number: int) -> None:
    invoice = pristine_invoice(number)
    assert set(invoice) == FIELDS
    assert invoice["invoice_id"] == f"INV-{number}"
    assert invoice["vendor_id"].startswith("VEND-")
    assert invoice["vendor_name"]
    assert isinstance(invoice["total_amount"], int | float)
    assert not isinstance(invoice["total_amount"], bool)
    assert invoice["total_amount"] > 0
    assert len(invoice["currency"]) == 3
    assert invoice["status"] in STATUSES
    assert set(invoice["billing_address"]) == {"street", "city", "postal_code", "country"}
    assert all(isinstance(v, str) and v for v in invoice["billing_address"].values())
    issued = dt.date.fromisoformat(invoice["issue_date"])
    modified = dt.datetime.strptime(invoice["last_modified"], "%Y-%m-%dT%H:%M:%SZ")
    assert issued <= modified.date()


@settings(deadline=None)
@given(numbers)
def test_pristine_invoice_is_deterministic(number: int) -> None:
    assert pristine_invoice(number) == pristine_invoice(number)
    assert pristine_json(number) == pristine_json(number)
    assert orjson.loads(pristine_json(number)) == pristine_invoice(number)


def test_pristine_invoices_vary() -> None:
    invoices = [pristine_invoice(n) for n in range(1, 501)]
    for field in ("vendor_id", "total_amount", "status", "issue_date", "currency"):
        assert len({str(invoice[field]) for invoice in invoices}) > 4, field
    assert {invoice["status"] for invoice in invoices} == set(STATUSES)


def test_pristine_invoice_is_a_fresh_dict() -> None:
    first = pristine_invoice(7)
    first["billing_address"]["city"] = "Nowhere"
    first["vendor_id"] = None
    assert pristine_invoice(7)["billing_address"]["city"] != "Nowhere"
    assert pristine_invoice(7)["vendor_id"] is not None


def test_amounts_have_at_most_two_decimals() -> None:
    for n in range(1, 2001):
        amount = pristine_invoice(n)["total_amount"]
        assert round(amount, 2) == amount


def test_vendors_are_distinct() -> None:
    assert len({vendor.vendor_id for vendor in VENDORS}) == len(VENDORS)


@pytest.mark.parametrize("value", ["INV-1", "INV-1000"])
def test_catalogue_knows_canonical_ids_up_to_its_size(value: str) -> None:
    catalogue = Catalogue(1000)
    assert catalogue.get(value) == pristine_invoice(int(value[4:]))


@pytest.mark.parametrize("value", ["INV-0", "INV-1001", "INV-007", "INV-999999999999"])
def test_catalogue_does_not_know_other_well_formed_ids(value: str) -> None:
    catalogue = Catalogue(1000)
    assert catalogue.lookup(value) is None
    with pytest.raises(FarmError) as caught:
        catalogue.get(value)
    assert (caught.value.status, caught.value.error_code) == (404, "NOT_FOUND")


def test_catalogue_rejects_malformed_ids() -> None:
    with pytest.raises(FarmError) as caught:
        Catalogue(1000).get("INV-1/../2")
    assert caught.value.error_code == "MALFORMED_ID"


def test_batch_is_aligned_with_ids_and_keeps_duplicates() -> None:
    catalogue = Catalogue(10)
    result = catalogue.batch(["INV-3", "INV-11", "INV-3", "INV-01"])
    assert result == [pristine_invoice(3), None, pristine_invoice(3), None]


def test_content_does_not_depend_on_catalogue_size() -> None:
    assert Catalogue(5).get("INV-5") == Catalogue(1_000_000).get("INV-5")
