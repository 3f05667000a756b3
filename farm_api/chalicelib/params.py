"""Strict parsing of the farm's query parameters into typed requests (400 on anything odd)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chalicelib.chaos import ChaosRates
from chalicelib.config import FarmConfig
from chalicelib.errors import invalid_parameter, limit_exceeded, malformed_id
from chalicelib.field_drift import KindShares
from chalicelib.ids import is_valid_invoice_id

QueryParams = Mapping[str, Sequence[str]]

MAX_BATCH_IDS = 200
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_CURSOR = 2**53 - 1 - MAX_LIMIT
MAX_SEED = 2**63 - 1
KIND_PARAMS = ("renamed_share", "string_number_share", "case_share", "empty_share")
STREAM_PARAMS = frozenset(
    {"chaos", "cursor", "limit", "seed", "drift_rate", "malformed_rate", *KIND_PARAMS}
)
_DIGITS = re.compile(r"[0-9]{1,19}")
_DECIMAL = re.compile(r"(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})(?:[eE][-+]?[0-9]{1,3})?")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class StreamQuery:
    """A validated `GET /api/stream` request."""

    chaos: bool
    cursor: int
    limit: int
    seed: int
    rates: ChaosRates


def parse_stream_query(params: QueryParams, config: FarmConfig) -> StreamQuery:
    """Validate stream parameters; rates default to the farm's configuration."""
    _reject_unknown(params, STREAM_PARAMS)
    chaos = _bool(params, "chaos", False)
    cursor = _int(params, "cursor", 0, 0, MAX_CURSOR)
    limit = _int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    seed = _int(params, "seed", 0, 0, MAX_SEED)
    drift = _rate(params, "drift_rate", config.drift_rate)
    malformed = _rate(params, "malformed_rate", config.malformed_rate)
    if drift + malformed > 1.0:
        raise invalid_parameter(
            f"drift_rate + malformed_rate must not exceed 1 (got {drift} + {malformed})"
        )
    kinds = KindShares(
        renamed=_rate(params, "renamed_share", config.renamed_share),
        string_number=_rate(params, "string_number_share", config.string_number_share),
        case=_rate(params, "case_share", config.case_share),
        empty=_rate(params, "empty_share", config.empty_share),
    )
    problem = kinds.problem()
    if problem is not None:
        raise invalid_parameter(f"{problem} (query parameters {', '.join(KIND_PARAMS)})")
    rates = ChaosRates(drift, malformed, config.unrepairable_share, kinds)
    return StreamQuery(chaos=chaos, cursor=cursor, limit=limit, seed=seed, rates=rates)


def parse_batch_ids(params: QueryParams) -> list[str]:
    """The `ids` of a batch read: 1..200 well-formed invoice ids, duplicates allowed."""
    _reject_unknown(params, frozenset({"ids"}))
    raw = _single(params, "ids")
    if raw is None:
        raise invalid_parameter("Missing required query parameter 'ids' (comma-separated ids)")
    ids = raw.split(",", MAX_BATCH_IDS)
    if len(ids) > MAX_BATCH_IDS:
        raise limit_exceeded(f"At most {MAX_BATCH_IDS} ids may be requested at once")
    for value in ids:
        if not is_valid_invoice_id(value):
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise malformed_id(
                f"Invalid invoice id {shown!r} in ids: expected INV- and 1 to 12 digits"
            )
    return ids


def _reject_unknown(params: QueryParams, allowed: frozenset[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        names = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise invalid_parameter(
            f"Unknown query parameter {names}; allowed: {', '.join(sorted(allowed))}"
        )


def _single(params: QueryParams, name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise invalid_parameter(f"Query parameter '{name}' must be given at most once")
    return values[0]


def _int(params: QueryParams, name: str, default: int, low: int, high: int) -> int:
    raw = _single(params, name)
    if raw is None:
        return default
    if _DIGITS.fullmatch(raw) is None or not low <= int(raw) <= high:
        raise invalid_parameter(f"'{name}' must be an integer from {low} to {high}")
    return int(raw)


def _bool(params: QueryParams, name: str, default: bool) -> bool:
    raw = _single(params, name)
    if raw is None:
        return default
    value = _BOOLEANS.get(raw.lower())
    if value is None:
        raise invalid_parameter(f"'{name}' must be true or false")
    return value


def _rate(params: QueryParams, name: str, default: float) -> float:
    raw = _single(params, name)
    if raw is None:
        return default
    if _DECIMAL.fullmatch(raw) is None or not 0.0 <= float(raw) <= 1.0:
        raise invalid_parameter(f"'{name}' must be a number from 0 to 1")
    return float(raw)
