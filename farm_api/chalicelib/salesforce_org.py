"""The farm's Salesforce org: versions, SOQL lookups with paged results, reads by id.

Query cursors (the `nextRecordsUrl` locators) live in this process, bounded in number and
age, like the sessions in `oauth`.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.catalogue import Catalogue
from chalicelib.errors import FarmError, not_found
from chalicelib.ids import is_valid_invoice_id
from chalicelib.salesforce_fields import (
    EXTERNAL_ID_FIELD,
    FIELDS,
    SOBJECT,
    canonical_field,
    sobject,
)
from chalicelib.salesforce_ids import record_number
from chalicelib.soql import malformed_query, parse_lookup

MIN_VERSION = 20
MAX_VERSION = 62
DEFAULT_PAGE_SIZE = 2000
MAX_CURSORS = 1000
CURSOR_TTL_S = 900.0
_VERSION = re.compile(r"v([0-9]{2})\.0")
_LOCATOR = re.compile(r"01g[0-9A-Za-z]{15}-([0-9]{1,9})")
_SEASONS = ("Winter", "Spring", "Summer")


def versions() -> list[dict[str, str]]:
    """The API versions this org answers, oldest first, in `GET /services/data/` form."""
    answer = []
    for number in range(MIN_VERSION, MAX_VERSION + 1):
        year, season = divmod(number - 59, 3)
        answer.append(
            {
                "label": f"{_SEASONS[season]} '{24 + year:02d}",
                "url": f"/services/data/v{number}.0",
                "version": f"{number}.0",
            }
        )
    return answer


def api_version(segment: str) -> str:
    """`59.0` for the path segment `v59.0`; FarmError 404 NOT_FOUND for any other."""
    match = _VERSION.fullmatch(segment)
    if match is None or not MIN_VERSION <= int(match.group(1)) <= MAX_VERSION:
        raise resource_not_found()
    return f"{int(match.group(1))}.0"


def resource_not_found() -> FarmError:
    """404 NOT_FOUND for a path the org does not serve."""
    return not_found("The requested resource does not exist")


def invalid_field(message: str) -> FarmError:
    """400 INVALID_FIELD."""
    return FarmError(400, "INVALID_FIELD", message)


def invalid_type(name: str) -> FarmError:
    """400 INVALID_TYPE for an unknown sObject."""
    shown = name if len(name) <= 40 else name[:40] + "..."
    return FarmError(400, "INVALID_TYPE", f"sObject type '{shown}' is not supported.")


def invalid_locator() -> FarmError:
    """400 INVALID_QUERY_LOCATOR."""
    return FarmError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


@dataclass(frozen=True)
class _Cursor:
    numbers: tuple[int, ...]
    fields: tuple[str, ...]
    created: float


class SalesforceOrg:
    """Answers the Salesforce REST subset from the catalogue."""

    def __init__(
        self,
        catalogue: Catalogue,
        page_size: int = DEFAULT_PAGE_SIZE,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalogue = catalogue
        self.page_size = page_size
        self._clock = clock
        self._lock = threading.Lock()
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()

    def query(self, soql: str, version: str) -> dict[str, Any]:
        """The first page of `soql`'s answer; 400 MALFORMED_QUERY, INVALID_TYPE, INVALID_FIELD."""
        lookup = parse_lookup(soql)
        if lookup.sobject.lower() != SOBJECT.lower():
            raise invalid_type(lookup.sobject)
        fields = tuple(_field(name) for name in lookup.fields)
        if len(set(fields)) != len(fields):
            raise malformed_query("duplicate field selected")
        filter_field = _field(lookup.filter_field)
        numbers = sorted({n for n in map(self._matcher(filter_field), lookup.values) if n})
        return self._page(_Cursor(tuple(numbers), fields, self._clock()), 0, version)

    def query_more(self, locator: str, version: str) -> dict[str, Any]:
        """A later page named by its locator; 400 INVALID_QUERY_LOCATOR when unknown or old."""
        match = _LOCATOR.fullmatch(locator)
        if match is None:
            raise invalid_locator()
        key = locator[: locator.index("-")]
        with self._lock:
            cursor = self._cursors.get(key)
        offset = int(match.group(1))
        if cursor is None or offset >= len(cursor.numbers) or offset % self.page_size:
            raise invalid_locator()
        return self._page(cursor, offset, version, key)

    def by_external_id(self, sobject_name: str, field: str, value: str, version: str) -> Any:
        """The full record whose external id `field` equals `value`; 404 NOT_FOUND otherwise."""
        if sobject_name != SOBJECT:
            raise resource_not_found()
        if field != EXTERNAL_ID_FIELD:
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {field[:40]}"
            )
        number = self._matcher(EXTERNAL_ID_FIELD)(value)
        if number is None:
            raise not_found("The requested resource does not exist")
        return sobject(number, tuple(FIELDS), version)

    def by_id(self, sobject_name: str, value: str, version: str) -> Any:
        """The full record with Id `value`; 404 NOT_FOUND otherwise."""
        if sobject_name != SOBJECT:
            raise resource_not_found()
        number = self._matcher("Id")(value)
        if number is None:
            raise resource_not_found()
        return sobject(number, tuple(FIELDS), version)

    def _matcher(self, field: str) -> Callable[[str], int | None]:
        size = self.catalogue.size
        if field in ("Name", EXTERNAL_ID_FIELD):
            return lambda value: (
                self.catalogue.known_number(value) if is_valid_invoice_id(value) else None
            )
        if field == "Id":
            return lambda value: n if (n := record_number(value)) and 1 <= n <= size else None
        raise malformed_query(
            f"this org filters {SOBJECT} only on Id, Name or {EXTERNAL_ID_FIELD}, not {field}"
        )

    def _page(
        self, cursor: _Cursor, offset: int, version: str, key: str | None = None
    ) -> dict[str, Any]:
        end = offset + self.page_size
        records = [sobject(number, cursor.fields, version) for number in cursor.numbers[offset:end]]
        answer: dict[str, Any] = {"totalSize": len(cursor.numbers), "done": True}
        if end < len(cursor.numbers):
            key = key or self._keep(cursor)
            answer["done"] = False
            answer["nextRecordsUrl"] = f"/services/data/v{version}/query/{key}-{end}"
        answer["records"] = records
        return answer

    def _keep(self, cursor: _Cursor) -> str:
        key = "01g" + secrets.token_hex(8)[:15]
        now = self._clock()
        with self._lock:
            while self._cursors and (
                len(self._cursors) >= MAX_CURSORS
                or next(iter(self._cursors.values())).created + CURSOR_TTL_S <= now
            ):
                self._cursors.popitem(last=False)
            self._cursors[key] = cursor
        return key


def _field(name: str) -> str:
    canonical = canonical_field(name)
    if canonical is None:
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise invalid_field(f"No such column '{shown}' on entity '{SOBJECT}'.")
    return canonical
