"""18-character Salesforce record ids for invoices: deterministic, reversible, checksummed.

Layout of the 15-character case-sensitive id: key prefix `a0I` (a custom object), pod
`5g`, reserved `0`, then the invoice number in base 62 over 9 characters. The 3-character
suffix is Salesforce's case checksum: for each 5-character block, a bit per uppercase
letter, read as an index into `A..Z0..5`.
"""

from __future__ import annotations

KEY_PREFIX = "a0I"
_POD = "5g0"
_HEAD = KEY_PREFIX + _POD
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VALUES = {char: index for index, char in enumerate(_DIGITS)}
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BODY_LENGTH = 9
MAX_NUMBER = 62**_BODY_LENGTH - 1


def record_id(number: int) -> str:
    """The 18-character Id of invoice `number` (0 .. 62^9 - 1)."""
    if not 0 <= number <= MAX_NUMBER:
        raise ValueError(f"invoice number out of range for an Id: {number}")
    body = []
    for _ in range(_BODY_LENGTH):
        number, digit = divmod(number, 62)
        body.append(_DIGITS[digit])
    short = _HEAD + "".join(reversed(body))
    return short + checksum(short)


def checksum(short_id: str) -> str:
    """Salesforce's 3-character case-safe suffix of a 15-character id."""
    suffix = []
    for block in range(3):
        bits = 0
        for position, char in enumerate(short_id[block * 5 : block * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX[bits])
    return "".join(suffix)


def record_number(value: str) -> int | None:
    """The invoice number an 15- or 18-character Id names, None for any other string."""
    if len(value) not in (15, 18) or not value.isascii() or not value.startswith(_HEAD):
        return None
    short = value[:15]
    if len(value) == 18 and value[15:] != checksum(short):
        return None
    number = 0
    for char in short[len(_HEAD) :]:
        digit = _VALUES.get(char)
        if digit is None:
            return None
        number = number * 62 + digit
    return number
