"""SOQL lookups by external id: validated, quoted ids, in chunks bounded by id count and by
the length of the request Salesforce accepts (URI plus headers at most 16,384 bytes).

Ids must be invoice ids (`INV-` and 1..12 ASCII digits) before they reach a query; the
literal quoting escapes every character SOQL treats specially anyway, so that no value
could end the literal even if the validation were loosened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sidecar_fn.drift import INVOICE_ID_RE

MAX_REQUEST_HEAD = 16_384
HEAD_MARGIN = 512
"""Bytes kept free for what the estimate of the request line and headers cannot see."""
MAX_IDS_PER_QUERY = 200
_ESCAPES = {
    "\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "\b": "\\b", "\f": "\\f",
}  # fmt: skip


def is_lookup_id(value: object) -> bool:
    """True for a string that may be looked up: an invoice id."""
    return isinstance(value, str) and INVOICE_ID_RE.fullmatch(value) is not None


def soql_literal(value: str) -> str:
    """`value` as a SOQL string literal, every special character escaped."""
    return "'" + "".join(_ESCAPES.get(char, char) for char in value) + "'"


def lookup_query(select: Sequence[str], sobject: str, id_field: str, ids: Sequence[str]) -> str:
    """`SELECT ... FROM sobject WHERE id_field IN ('a','b')`; ValueError for a bad id."""
    for value in ids:
        if not is_lookup_id(value):
            raise ValueError(f"not a lookup id: {str(value)[:40]!r}")
    literals = ",".join(soql_literal(value) for value in ids)
    return f"SELECT {','.join(select)} FROM {sobject} WHERE {id_field} IN ({literals})"


@dataclass(frozen=True)
class LookupChunk:
    """The ids of one query and its full URL."""

    ids: tuple[str, ...]
    url: str


def encoded(text: str) -> str:
    """`text` percent-encoded for a query string value (every reserved character)."""
    return quote(text, safe="")


def chunk_lookups(
    ids: Sequence[str],
    *,
    query_url: str,
    select: Sequence[str],
    sobject: str,
    id_field: str,
    header_bytes: int,
    max_ids: int = MAX_IDS_PER_QUERY,
    max_head: int = MAX_REQUEST_HEAD,
) -> list[LookupChunk]:
    """Split `ids` into queries of at most `max_ids` ids whose URL plus `header_bytes` plus
    a margin stays within `max_head`. `query_url` ends in `?q=`."""
    budget = max_head - header_bytes - HEAD_MARGIN
    head = query_url + encoded(f"SELECT {','.join(select)} FROM {sobject} WHERE {id_field} IN (")
    tail = encoded(")")
    separator = len(encoded(","))
    chunks: list[LookupChunk] = []
    current: list[str] = []
    length = len(head) + len(tail)
    for value in ids:
        if not is_lookup_id(value):
            raise ValueError(f"not a lookup id: {str(value)[:40]!r}")
        cost = len(encoded(soql_literal(value))) + (separator if current else 0)
        if current and (len(current) >= max_ids or length + cost > budget):
            chunks.append(_chunk(current, query_url, select, sobject, id_field))
            current, length = [], len(head) + len(tail)
            cost -= separator
        if length + cost > budget:
            raise ValueError("the query URL for a single id is longer than the request limit")
        current.append(value)
        length += cost
    if current:
        chunks.append(_chunk(current, query_url, select, sobject, id_field))
    return chunks


def _chunk(
    ids: list[str], query_url: str, select: Sequence[str], sobject: str, id_field: str
) -> LookupChunk:
    return LookupChunk(
        tuple(ids), query_url + encoded(lookup_query(select, sobject, id_field, ids))
    )
