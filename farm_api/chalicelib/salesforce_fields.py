"""The invoice as a Salesforce `Invoice__c` record: field names, value formats, sObject shape.

`billing_address` (an object in the farm) becomes four text fields, as custom objects do not
hold compound addresses; `last_modified` becomes a Salesforce datetime
(`2025-03-01T10:22:33.000+0000`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.catalogue import Invoice, pristine_invoice
from chalicelib.salesforce_ids import record_id

SOBJECT = "Invoice__c"
EXTERNAL_ID_FIELD = "Invoice_Number__c"

Reader = Callable[[int, Invoice], Any]


def _field(name: str) -> Reader:
    return lambda _number, invoice: invoice[name]


def _address(part: str) -> Reader:
    return lambda _number, invoice: invoice["billing_address"][part]


def _datetime(name: str) -> Reader:
    return lambda _number, invoice: invoice[name].removesuffix("Z") + ".000+0000"


FIELDS: dict[str, Reader] = {
    "Id": lambda number, _invoice: record_id(number),
    "Name": _field("invoice_id"),
    EXTERNAL_ID_FIELD: _field("invoice_id"),
    "Vendor_Id__c": _field("vendor_id"),
    "Vendor_Name__c": _field("vendor_name"),
    "Total_Amount__c": _field("total_amount"),
    "Currency__c": _field("currency"),
    "Status__c": _field("status"),
    "Issue_Date__c": _field("issue_date"),
    "Billing_Street__c": _address("street"),
    "Billing_City__c": _address("city"),
    "Billing_Postal_Code__c": _address("postal_code"),
    "Billing_Country__c": _address("country"),
    "Last_Modified__c": _datetime("last_modified"),
}
"""Every field of `Invoice__c`, in describe order, and how it is read from an invoice."""

_CANONICAL = {name.lower(): name for name in FIELDS}


def canonical_field(name: str) -> str | None:
    """The field's canonical spelling (SOQL field names ignore case), None when unknown."""
    return _CANONICAL.get(name.lower())


def record_url(version: str, number: int) -> str:
    """The sObject URL of invoice `number` under API `version` (`59.0`)."""
    return f"/services/data/v{version}/sobjects/{SOBJECT}/{record_id(number)}"


def sobject(number: int, fields: Sequence[str], version: str) -> dict[str, Any]:
    """The record of invoice `number` with `fields` (canonical names), as Salesforce answers."""
    invoice = pristine_invoice(number)
    record: dict[str, Any] = {"attributes": {"type": SOBJECT, "url": record_url(version, number)}}
    for name in fields:
        record[name] = FIELDS[name](number, invoice)
    return record
