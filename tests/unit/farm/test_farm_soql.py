"""The SOQL subset parser: the lookups it accepts and the hostile input it refuses."""

from __future__ import annotations

import pytest
from chalicelib.errors import FarmError
from chalicelib.soql import MAX_QUERY_LENGTH, Lookup, parse_lookup
from hypothesis import given
from hypothesis import strategies as st


def refused(query: str) -> str:
    with pytest.raises(FarmError) as caught:
        parse_lookup(query)
    assert caught.value.status == 400
    assert caught.value.error_code == "MALFORMED_QUERY"
    return caught.value.message


def test_an_in_lookup_parses() -> None:
    query = (
        "SELECT Id, Invoice_Number__c FROM Invoice__c WHERE Invoice_Number__c IN ('INV-1','INV-2')"
    )
    assert parse_lookup(query) == Lookup(
        ("Id", "Invoice_Number__c"), "Invoice__c", "Invoice_Number__c", ("INV-1", "INV-2")
    )


def test_keywords_ignore_case_and_whitespace_is_free() -> None:
    query = "select\tId\r\n,Name from Invoice__c\nwhere Name = 'INV-9'"
    assert parse_lookup(query) == Lookup(("Id", "Name"), "Invoice__c", "Name", ("INV-9",))


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'it\'s'", "it's"),
        (r"'a\\b'", "a\\b"),
        (r"'q\"q'", 'q"q'),
        (r"'line\nbreak'", "line\nbreak"),
        (r"'tab\tand\rret'", "tab\tand\rret"),
        (r"'100\%'", "100\\%"),
        ("'Zürich \u0661 \U0001f600'", "Zürich \u0661 \U0001f600"),
        ("'--not a comment /* */'", "--not a comment /* */"),
        ("''", ""),
    ],
)
def test_string_literals_take_soql_escapes(literal: str, value: str) -> None:
    assert parse_lookup(f"SELECT Id FROM Invoice__c WHERE Name = {literal}").values == (value,)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "SELECT",
        "SELECT Id",
        "SELECT Id FROM Invoice__c",
        "SELECT FROM Invoice__c WHERE Name = 'x'",
        "SELECT Id, FROM Invoice__c WHERE Name = 'x'",
        "SELECT * FROM Invoice__c WHERE Name = 'x'",
        "SELECT Id FROM Invoice__c WHERE Name = 'x' -- comment",
        "SELECT Id FROM Invoice__c WHERE Name = 'x' /* c */",
        "SELECT Id FROM Invoice__c WHERE Name = 'x';",
        "SELECT Id FROM Invoice__c WHERE Name = 'x'; DELETE FROM Invoice__c",
        "SELECT Id FROM Invoice__c WHERE Name = 'x' OR Name = 'y'",
        "SELECT Id FROM Invoice__c WHERE Name = 'x' LIMIT 1",
        'SELECT Id FROM Invoice__c WHERE Name = "x"',
        "SELECT Id FROM Invoice__c WHERE Name = x",
        "SELECT Id FROM Invoice__c WHERE Name = 1",
        "SELECT Id FROM Invoice__c WHERE Name IN 'x'",
        "SELECT Id FROM Invoice__c WHERE Name IN ()",
        "SELECT Id FROM Invoice__c WHERE Name IN ('x',)",
        "SELECT Id FROM Invoice__c WHERE Name IN ('x'",
        "SELECT Id FROM Invoice__c WHERE Name = 'x",
        "SELECT Id FROM Invoice__c WHERE Name = 'x\\'",
        "SELECT Id FROM Invoice__c WHERE Name = 'x\\q'",
        "SELECT Id FROM Invoice__c WHERE Name = 'x\\u0041'",
        "SELECT Id FROM Invoice__c WHERE Name != 'x'",
        "SELECT Id FROM Invoice__c WHERE Name LIKE 'x%'",
        "SELECT Id\u00a0FROM Invoice__c WHERE Name = 'x'",
        "SELECT Íd FROM Invoice__c WHERE Name = 'x'",
        "SELECT Id FROM Invoice__c WHERE Name = 'x'\x00",
        "SELECT _Id FROM Invoice__c WHERE Name = 'x'",
    ],
)
def test_anything_outside_the_subset_is_malformed(query: str) -> None:
    assert refused(query)


def test_the_error_names_the_column_of_the_bad_token() -> None:
    assert "column 44" in refused("SELECT Id FROM Invoice__c WHERE Name = 'x' OR Name = 'y'")


def test_a_query_past_the_length_limit_is_malformed() -> None:
    values = ",".join(["'INV-1'"] * (MAX_QUERY_LENGTH // 8 + 1))
    assert "longer than" in refused(f"SELECT Id FROM Invoice__c WHERE Name IN ({values})")


@given(st.text())
def test_any_text_parses_or_is_malformed(text: str) -> None:
    try:
        parse_lookup(text)
    except FarmError as error:
        assert error.error_code == "MALFORMED_QUERY"


@given(st.text())
def test_any_value_round_trips_through_escaping(value: str) -> None:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    lookup = parse_lookup(f"SELECT Id FROM Invoice__c WHERE Name IN ('{escaped}', 'INV-1')")
    assert lookup.values == (value, "INV-1")
    assert lookup.filter_field == "Name"
