"""SOQL lookup building: id validation, quoting, and chunks bounded by ids and URI length."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from chalicelib.soql import parse_lookup
from hypothesis import given
from hypothesis import strategies as st

from sidecar_fn.soql_lookup import (
    HEAD_MARGIN,
    MAX_REQUEST_HEAD,
    LookupChunk,
    chunk_lookups,
    is_lookup_id,
    lookup_query,
    soql_literal,
)

SELECT = ("Id", "Invoice_Number__c", "Vendor_Id__c")
QUERY_URL = "https://acme.my.salesforce.com/services/data/v59.0/query?q="


def invoice_chunks(ids: list[str], header_bytes: int, **limits: int) -> list[LookupChunk]:
    """chunk_lookups for Invoice__c by Invoice_Number__c, selecting SELECT."""
    return chunk_lookups(
        ids,
        query_url=QUERY_URL,
        select=SELECT,
        sobject="Invoice__c",
        id_field="Invoice_Number__c",
        header_bytes=header_bytes,
        **limits,
    )


HOSTILE = [
    "INV-1' OR Name != '",
    "INV-1\\' OR Name != \\'",
    "INV-1')) OR (Name != '",
    "INV-1' --",
    "INV-1'; DELETE FROM Invoice__c",
    "INV-1/* */",
    "INV-1\x00",
    "INV-1\n",
    "INV-\u0661",
    "INV-\uff11",
    " INV-1",
    "INV-1 ",
    "inv-1",
    "INV-1234567890123",
    "",
    "'",
    "\\",
    "%27",
]


def test_a_lookup_query_names_the_fields_and_quotes_the_ids() -> None:
    query = lookup_query(SELECT, "Invoice__c", "Invoice_Number__c", ["INV-1", "INV-22"])
    assert query == (
        "SELECT Id,Invoice_Number__c,Vendor_Id__c FROM Invoice__c "
        "WHERE Invoice_Number__c IN ('INV-1','INV-22')"
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_ids_never_reach_a_query(value: str) -> None:
    assert not is_lookup_id(value)
    with pytest.raises(ValueError, match="not a lookup id"):
        lookup_query(SELECT, "Invoice__c", "Invoice_Number__c", ["INV-1", value])
    with pytest.raises(ValueError, match="not a lookup id"):
        invoice_chunks(["INV-1", value], header_bytes=200)


@given(st.text())
def test_quoting_keeps_any_value_inside_its_literal(value: str) -> None:
    query = f"SELECT Id FROM Invoice__c WHERE Name IN ({soql_literal(value)}, 'INV-1')"
    lookup = parse_lookup(query)
    assert lookup.values == (value, "INV-1")


@pytest.mark.parametrize("value", ["it's", "a\\b", 'q"q', "line\nbreak", "--", "/* x */", "é"])
def test_quoting_round_trips_through_a_soql_parser(value: str) -> None:
    lookup = parse_lookup(f"SELECT Id FROM Invoice__c WHERE Name = {soql_literal(value)}")
    assert lookup.values == (value,)


def test_chunks_hold_at_most_max_ids() -> None:
    ids = [f"INV-{n}" for n in range(1, 451)]
    chunks = invoice_chunks(ids, header_bytes=300, max_ids=200)
    assert [len(c.ids) for c in chunks] == [200, 200, 50]
    assert [i for c in chunks for i in c.ids] == ids


def test_long_ids_and_big_headers_make_smaller_chunks() -> None:
    ids = [f"INV-{10**11 + n}" for n in range(400)]
    small = invoice_chunks(ids, header_bytes=12_000)
    assert len(small) > 2
    for chunk in small:
        assert len(chunk.url) + 12_000 + HEAD_MARGIN <= MAX_REQUEST_HEAD
        assert len(chunk.ids) < 200


@given(
    st.lists(st.integers(1, 10**12 - 1), min_size=1, max_size=600, unique=True),
    st.integers(0, 12_000),
    st.integers(1, 200),
)
def test_every_chunk_fits_the_request_limit(numbers: list[int], headers: int, max_ids: int) -> None:
    ids = [f"INV-{n}" for n in numbers]
    chunks = invoice_chunks(ids, header_bytes=headers, max_ids=max_ids)
    assert [i for c in chunks for i in c.ids] == ids
    for chunk in chunks:
        assert 1 <= len(chunk.ids) <= max_ids
        assert len(chunk.url) + headers + HEAD_MARGIN <= MAX_REQUEST_HEAD
        query = unquote(chunk.url.removeprefix(QUERY_URL))
        assert parse_lookup(query).values == chunk.ids


def test_no_room_for_a_single_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="longer than the request limit"):
        invoice_chunks(["INV-1"], header_bytes=16_000)
