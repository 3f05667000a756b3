"""The source of truth: pristine invoices generated deterministically from their number.

Catalogue rule: the known invoices are exactly `INV-1` .. `INV-<size>` written without
leading zeros. Any other well-formed id (`INV-0`, `INV-007`, numbers above the size) is
unknown. The content of an invoice depends only on its number, never on the size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from chalicelib.errors import not_found
from chalicelib.ids import invoice_id, invoice_number
from chalicelib.rng import HashRandom, draws, unit

Invoice = dict[str, Any]

STATUSES = ("DRAFT", "SUBMITTED", "APPROVED", "PAID", "VOID")
_STATUS_TABLE = (
    ("PAID",) * 7 + ("APPROVED",) * 4 + ("SUBMITTED",) * 4 + ("DRAFT",) * 3 + ("VOID",) * 2
)
_FIRST_ISSUE_DAY = dt.date(2023, 1, 1).toordinal()
_ISSUE_DAYS = 1300
_MODIFIED_DAYS = 90
_MAX_MODIFIED_MINUTES = _MODIFIED_DAYS * 1440
_CLOCK = tuple(f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(1440))
_SECONDS = tuple(f"{second:02d}" for second in range(60))
_DATES = tuple(
    dt.date.fromordinal(_FIRST_ISSUE_DAY + day).isoformat()
    for day in range(_ISSUE_DAYS + _MODIFIED_DAYS)
)


@dataclass(frozen=True)
class _Country:
    code: str
    currency: str
    suffixes: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]
    streets: tuple[str, ...]
    street_first: bool


_COUNTRIES = (
    _Country(
        "US",
        "USD",
        ("Inc.", "LLC", "Corp."),
        (("New York", "100"), ("Chicago", "606"), ("Austin", "787"), ("Seattle", "981")),
        ("Main Street", "Market Street", "Oak Avenue", "Industrial Parkway"),
        False,
    ),
    _Country(
        "DE",
        "EUR",
        ("GmbH", "AG", "KG"),
        (("München", "80"), ("Berlin", "10"), ("Hamburg", "20"), ("Köln", "50")),
        ("Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gartenweg"),
        True,
    ),
    _Country(
        "FR",
        "EUR",
        ("SARL", "SA", "SAS"),
        (("Paris", "75"), ("Lyon", "69"), ("Toulouse", "31"), ("Lille", "59")),
        ("rue de la République", "avenue Jean Jaurès", "boulevard Voltaire", "rue du Général"),
        False,
    ),
    _Country(
        "GB",
        "GBP",
        ("Ltd", "PLC", "LLP"),
        (("London", "EC"), ("Manchester", "M"), ("Leeds", "LS"), ("Bristol", "BS")),
        ("High Street", "Station Road", "Church Lane", "Victoria Road"),
        False,
    ),
    _Country(
        "CH",
        "CHF",
        ("AG", "GmbH", "SA"),
        (("Zürich", "80"), ("Genève", "12"), ("Basel", "40"), ("Bern", "30")),
        ("Bahnhofstrasse", "Seestrasse", "Rue du Rhône", "Marktgasse"),
        True,
    ),
    _Country(
        "JP",
        "JPY",
        ("K.K.", "G.K.", "Co., Ltd."),
        (("Tokyo", "100"), ("Osaka", "530"), ("Nagoya", "450"), ("Fukuoka", "810")),
        ("Chiyoda", "Minato", "Shibuya", "Chuo"),
        False,
    ),
    _Country(
        "BR",
        "BRL",
        ("Ltda.", "S.A.", "ME"),
        (("São Paulo", "01"), ("Rio de Janeiro", "20"), ("Curitiba", "80"), ("Recife", "50")),
        ("Avenida Paulista", "Rua das Flores", "Rua XV de Novembro", "Avenida Brasil"),
        False,
    ),
)

_NAME_HEADS = (
    "Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli",
    "Vandelay", "Soylent", "Tyrell", "Cyberdyne", "Müller", "Lefèvre", "Øresund", "Aperture",
    "Blue Harbor", "Redwood", "Silverline", "Pioneer", "Summit", "Evergreen", "Ironclad",
    "Brightwater", "Keystone", "Orion", "Atlas", "Meridian", "Cobalt", "Granite",
)  # fmt: skip
_NAME_TRADES = (
    "Logistics", "Office Supplies", "Industrial", "Consulting", "Freight", "Packaging",
    "Electrical", "Software", "Facilities", "Catering", "Print", "Components", "Energy",
)  # fmt: skip
VENDOR_COUNT = 997


@dataclass(frozen=True)
class Vendor:
    """A supplier that invoices: id, name, currency and billing address."""

    vendor_id: str
    name: str
    currency: str
    address: dict[str, str]


_GB_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def _postal_code(country: _Country, prefix: str, r: HashRandom) -> str:
    if country.code == "GB":
        letters = _GB_LETTERS
        return f"{prefix}{1 + r.below(9)} {r.below(10)}{r.choice(letters)}{r.choice(letters)}"
    if country.code == "JP":
        return f"{prefix}-{r.below(10_000):04d}"
    if country.code == "BR":
        return f"{prefix}{r.below(1000):03d}-{r.below(1000):03d}"
    if country.code == "CH":
        return f"{prefix}{r.below(100):02d}"
    if country.code == "US":
        return f"{prefix}{r.below(100):02d}"
    return f"{prefix}{r.below(1000):03d}"


def _vendor(index: int) -> Vendor:
    r = HashRandom(b"vendor:%d" % index)
    country = r.choice(_COUNTRIES)
    city, prefix = r.choice(country.cities)
    street = r.choice(country.streets)
    number = 1 + r.below(240)
    name = f"{r.choice(_NAME_HEADS)} {r.choice(_NAME_TRADES)} {r.choice(country.suffixes)}"
    address = {
        "street": f"{street} {number}" if country.street_first else f"{number} {street}",
        "city": city,
        "postal_code": _postal_code(country, prefix, r),
        "country": country.code,
    }
    return Vendor(f"VEND-{index:06d}", name, country.currency, address)


VENDORS = tuple(_vendor(index) for index in range(1, VENDOR_COUNT + 1))


def pristine_invoice(number: int) -> Invoice:
    """The pristine invoice `INV-<number>`: a fresh dict, identical on every call."""
    v = draws(b"invoice:%d" % number)
    vendor = VENDORS[v[0] % VENDOR_COUNT]
    cents = int(10 ** (2.0 + 5.0 * unit(v[1])))
    issued = v[3] % _ISSUE_DAYS
    day, minute = divmod(v[4] % _MAX_MODIFIED_MINUTES, 1440)
    return {
        "invoice_id": f"INV-{number}",
        "vendor_id": vendor.vendor_id,
        "vendor_name": vendor.name,
        "total_amount": cents if vendor.currency == "JPY" else cents / 100,
        "currency": vendor.currency,
        "status": _STATUS_TABLE[v[2] % len(_STATUS_TABLE)],
        "issue_date": _DATES[issued],
        "billing_address": dict(vendor.address),
        "last_modified": f"{_DATES[issued + day]}T{_CLOCK[minute]}:{_SECONDS[v[5] % 60]}Z",
    }


def pristine_json(number: int) -> str:
    """The pristine invoice serialized as compact JSON text."""
    return orjson.dumps(pristine_invoice(number)).decode()


@dataclass(frozen=True)
class Catalogue:
    """The known invoices `INV-1` .. `INV-<size>`."""

    size: int

    def known_number(self, value: str) -> int | None:
        """The number of a known id, None for an unknown one; MALFORMED_ID if malformed."""
        number = invoice_number(value)
        if 1 <= number <= self.size and value == invoice_id(number):
            return number
        return None

    def lookup(self, value: str) -> Invoice | None:
        """The pristine invoice for a known id, None for an unknown id."""
        number = self.known_number(value)
        return None if number is None else pristine_invoice(number)

    def get(self, value: str) -> Invoice:
        """The pristine invoice for `value`; FarmError 404 NOT_FOUND when unknown."""
        invoice = self.lookup(value)
        if invoice is None:
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {value}"
            )
        return invoice

    def batch(self, values: list[str]) -> list[Invoice | None]:
        """Invoices aligned with `values`, None for unknown ids (validate all ids first)."""
        numbers = [self.known_number(value) for value in values]
        return [None if number is None else pristine_invoice(number) for number in numbers]
