"""How a Salesforce record becomes a source-of-truth record: the field mapping of a schema.

A schema field may name its Salesforce source with a `"salesforce"` key:

- a field name: `"vendor_id": {"type": "string", "salesforce": "Vendor_Id__c"}`;
- a datetime, rewritten from Salesforce's `2026-03-15T11:13:05.000+0000` to ISO 8601 UTC
  (`2026-03-15T11:13:05Z`): `{"salesforce": {"field": "Last_Modified__c", "format":
  "datetime"}}`;
- an object assembled from several fields: `{"salesforce": {"parts": {"street":
  "Billing_Street__c", "city": "Billing_City__c"}}}`.

Fields that name none take the built-in mapping of the invoice fields (BUILTIN). The
schema's id field always reads the external id field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sidecar_fn.errors import SchemaError
from sidecar_fn.schema import ID_FIELD, Schema

SalesforceRecord = Mapping[str, Any]
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}", re.ASCII)
_SF_DATETIME = "%Y-%m-%dT%H:%M:%S.%f%z"

BUILTIN: dict[str, Any] = {
    "vendor_id": "Vendor_Id__c",
    "vendor_name": "Vendor_Name__c",
    "total_amount": "Total_Amount__c",
    "currency": "Currency__c",
    "status": "Status__c",
    "issue_date": "Issue_Date__c",
    "billing_address": {
        "parts": {
            "street": "Billing_Street__c",
            "city": "Billing_City__c",
            "postal_code": "Billing_Postal_Code__c",
            "country": "Billing_Country__c",
        }
    },
    "last_modified": {"field": "Last_Modified__c", "format": "datetime"},
}
"""The built-in mapping of the invoice fields to `Invoice__c` fields."""


def iso_datetime(value: Any) -> Any:
    """A Salesforce datetime as ISO 8601 UTC with `Z` (milliseconds kept when not zero);
    None for anything that is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.strptime(value, _SF_DATETIME).astimezone(UTC)
    except ValueError:
        return None
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = moment.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


@dataclass(frozen=True)
class FieldSource:
    """One schema field: the Salesforce fields it reads and how it builds its value."""

    name: str
    reads: tuple[str, ...]
    build: Callable[[SalesforceRecord], Any]


@dataclass(frozen=True)
class FieldMapping:
    """Every schema field's source, and the SOQL field list they need."""

    sources: tuple[FieldSource, ...]
    external_id_field: str

    @property
    def select(self) -> tuple[str, ...]:
        """Salesforce fields to select: Id, the external id, then each source's, once."""
        names = ["Id", self.external_id_field]
        for source in self.sources:
            names.extend(source.reads)
        return tuple(dict.fromkeys(names))

    def to_record(self, salesforce: SalesforceRecord) -> dict[str, Any]:
        """The source-of-truth record for a Salesforce record (absent values become None;
        the merge then refuses them as it refuses any record lacking a field)."""
        return {source.name: source.build(salesforce) for source in self.sources}


def _plain(field: str) -> Callable[[SalesforceRecord], Any]:
    return lambda record: record.get(field)


def _datetime(field: str) -> Callable[[SalesforceRecord], Any]:
    return lambda record: iso_datetime(record.get(field))


def _parts(parts: Mapping[str, str]) -> Callable[[SalesforceRecord], Any]:
    items = tuple(parts.items())

    def build(record: SalesforceRecord) -> Any:
        values = {part: record.get(field) for part, field in items}
        return None if all(value is None for value in values.values()) else values

    return build


def _salesforce_name(owner: str, value: Any) -> str:
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise SchemaError(
            f"field {owner!r}: Salesforce field names are letters, digits and _ "
            f"(at most 80, starting with a letter), not {str(value)[:40]!r}"
        )
    return value


def field_source(name: str, spec: Any) -> FieldSource:
    """The source of schema field `name` from its `"salesforce"` spec; SchemaError if bad."""
    if isinstance(spec, str):
        field = _salesforce_name(name, spec)
        return FieldSource(name, (field,), _plain(field))
    if isinstance(spec, Mapping) and set(spec) == {"parts"} and isinstance(spec["parts"], Mapping):
        parts = {str(part): _salesforce_name(name, f) for part, f in spec["parts"].items()}
        if not parts:
            raise SchemaError(f"field {name!r}: parts must name at least one field")
        return FieldSource(name, tuple(parts.values()), _parts(parts))
    if isinstance(spec, Mapping) and set(spec) <= {"field", "format"} and "field" in spec:
        field = _salesforce_name(name, spec["field"])
        form = spec.get("format", "plain")
        if form == "plain":
            return FieldSource(name, (field,), _plain(field))
        if form == "datetime":
            return FieldSource(name, (field,), _datetime(field))
        raise SchemaError(f"field {name!r}: format must be plain or datetime, not {form!r}")
    raise SchemaError(
        f"field {name!r}: salesforce must be a field name, "
        '{"field": ..., "format": "plain" | "datetime"} or {"parts": {...}}'
    )


def field_mapping(schema: Schema, external_id_field: str) -> FieldMapping:
    """The mapping of every schema field; SchemaError names a field with no known source."""
    id_field = _salesforce_name(ID_FIELD, external_id_field)
    sources = []
    for spec in schema.fields:
        if spec.name == ID_FIELD:
            sources.append(FieldSource(ID_FIELD, (id_field,), _plain(id_field)))
            continue
        declared = spec.salesforce if spec.salesforce is not None else BUILTIN.get(spec.name)
        if declared is None:
            raise SchemaError(
                f"field {spec.name!r} has no Salesforce field: name one with "
                '"salesforce" in the schema'
            )
        sources.append(field_source(spec.name, declared))
    return FieldMapping(tuple(sources), id_field)
