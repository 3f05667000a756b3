"""Invoice id validation accepts exactly `INV-` plus 1..12 ASCII digits."""

from __future__ import annotations

import pytest
from chalicelib.errors import FarmError
from chalicelib.ids import invoice_id, invoice_number, is_valid_invoice_id

HOSTILE_IDS = [
    "",
    "INV-",
    "inv-1",
    "INV1",
    "INV--1",
    "INV-+1",
    "INV- 1",
    " INV-1",
    "INV-1 ",
    "INV-1\n",
    "INV-1\r\nX-Injected: 1",
    "INV-1\x00",
    "\x00",
    "../INV-1",
    "INV-1/../../etc/passwd",
    "..%2FINV-1",
    "INV-%31",
    "INV-1%2F",
    "INV-1_000",
    "INV-1.5",
    "INV-1e3",
    "INV-\u0661\u0662",
    "INV-\uff11",
    "INV-\u00b9",
    "INV-1234567890123",
    "INV-" + "9" * 10_000,
    "X" * 100_000,
    "INV-12345678901\u0663",
]


@pytest.mark.parametrize("value", ["INV-1", "INV-0", "INV-007", "INV-123456789012"])
def test_well_formed_ids_are_valid(value: str) -> None:
    assert is_valid_invoice_id(value)
    assert invoice_number(value) == int(value[4:])


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_hostile_ids_are_malformed(value: str) -> None:
    assert not is_valid_invoice_id(value)
    with pytest.raises(FarmError) as caught:
        invoice_number(value)
    assert caught.value.status == 400
    assert caught.value.error_code == "MALFORMED_ID"
    assert len(caught.value.message) < 200


def test_invoice_id_is_canonical() -> None:
    assert invoice_id(42) == "INV-42"
