"""Invoice id validation: `INV-` followed by 1 to 12 ASCII digits, nothing else."""

from __future__ import annotations

import re

from chalicelib.errors import malformed_id

MAX_ID_LENGTH = len("INV-") + 12
_INVOICE_ID = re.compile(r"INV-[0-9]{1,12}")


def is_valid_invoice_id(value: str) -> bool:
    """True when `value` is exactly `INV-` plus 1..12 ASCII digits."""
    return len(value) <= MAX_ID_LENGTH and _INVOICE_ID.fullmatch(value) is not None


def invoice_number(value: str) -> int:
    """The number of a well-formed id; raises FarmError 400 MALFORMED_ID otherwise."""
    if not is_valid_invoice_id(value):
        raise malformed_id(f"Invalid invoice id {_quote(value)}: expected INV- and 1 to 12 digits")
    return int(value[4:])


def invoice_id(number: int) -> str:
    """The canonical id of an invoice number."""
    return f"INV-{number}"


def _quote(value: str) -> str:
    shown = value if len(value) <= 40 else value[:40] + "..."
    return repr(shown)
