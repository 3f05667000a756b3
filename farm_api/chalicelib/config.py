"""Farm configuration read once from the environment (a Chalice stage or a process)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.field_drift import (
    DEFAULT_CASE_SHARE,
    DEFAULT_EMPTY_SHARE,
    DEFAULT_RENAMED_SHARE,
    DEFAULT_STRING_NUMBER_SHARE,
    KindShares,
)

DEFAULT_DRIFT_RATE = 0.15
DEFAULT_MALFORMED_RATE = 0.05
DEFAULT_UNREPAIRABLE_SHARE = 0.05
DEFAULT_CATALOGUE_SIZE = 1_000_000
MAX_CATALOGUE_SIZE = 100_000_000_000
MAX_LATENCY_MS = 60_000
OPEN_STAGES = frozenset({"dev", "local", "test"})
_KIND_SHARES = ("renamed_share", "string_number_share", "case_share", "empty_share")
DEFAULT_SF_CLIENT_ID = "aos-farm-dev-client"
DEFAULT_SF_CLIENT_SECRET = "aos-farm-dev-secret"
DEFAULT_SF_SESSION_TTL_S = 7200
MAX_SF_SESSION_TTL_S = 86_400
DEFAULT_SF_DAILY_API_LIMIT = 100_000
MAX_SF_DAILY_API_LIMIT = 1_000_000_000
DEFAULT_SF_QUERY_PAGE_SIZE = 2000


@dataclass(frozen=True)
class FarmConfig:
    """Rates of the chaos stream, catalogue size, bearer token and fault injection."""

    drift_rate: float = DEFAULT_DRIFT_RATE
    malformed_rate: float = DEFAULT_MALFORMED_RATE
    unrepairable_share: float = DEFAULT_UNREPAIRABLE_SHARE
    catalogue_size: int = DEFAULT_CATALOGUE_SIZE
    api_token: str | None = None
    sot_failure_rate: float = 0.0
    sot_latency_ms: int = 0
    renamed_share: float = DEFAULT_RENAMED_SHARE
    string_number_share: float = DEFAULT_STRING_NUMBER_SHARE
    case_share: float = DEFAULT_CASE_SHARE
    empty_share: float = DEFAULT_EMPTY_SHARE
    sf_client_id: str = DEFAULT_SF_CLIENT_ID
    sf_client_secret: str = DEFAULT_SF_CLIENT_SECRET
    sf_session_ttl_s: int = DEFAULT_SF_SESSION_TTL_S
    sf_daily_api_limit: int = DEFAULT_SF_DAILY_API_LIMIT
    sf_query_page_size: int = DEFAULT_SF_QUERY_PAGE_SIZE

    def __post_init__(self) -> None:
        for name in ("drift_rate", "malformed_rate", "unrepairable_share", "sot_failure_rate"):
            _check_share(name, getattr(self, name))
        for name in _KIND_SHARES:
            _check_share(name, getattr(self, name))
        if self.drift_rate + self.malformed_rate > 1.0:
            raise ValueError("drift_rate + malformed_rate must not exceed 1")
        problem = self.kind_shares.problem()
        if problem is not None:
            raise ValueError(problem)

    @property
    def kind_shares(self) -> KindShares:
        """How drifted fields drift by default (query parameters may override each share)."""
        return KindShares(
            self.renamed_share, self.string_number_share, self.case_share, self.empty_share
        )
        if not 1 <= self.catalogue_size <= MAX_CATALOGUE_SIZE:
            raise ValueError(f"catalogue_size must be between 1 and {MAX_CATALOGUE_SIZE}")
        if not 0 <= self.sot_latency_ms <= MAX_LATENCY_MS:
            raise ValueError(f"sot_latency_ms must be between 0 and {MAX_LATENCY_MS}")
        if not self.sf_client_id or not self.sf_client_secret:
            raise ValueError("sf_client_id and sf_client_secret must not be empty")
        if not 1 <= self.sf_session_ttl_s <= MAX_SF_SESSION_TTL_S:
            raise ValueError(f"sf_session_ttl_s must be between 1 and {MAX_SF_SESSION_TTL_S}")
        if not 0 <= self.sf_daily_api_limit <= MAX_SF_DAILY_API_LIMIT:
            raise ValueError(f"sf_daily_api_limit must be between 0 and {MAX_SF_DAILY_API_LIMIT}")
        if not 1 <= self.sf_query_page_size <= DEFAULT_SF_QUERY_PAGE_SIZE:
            raise ValueError(
                f"sf_query_page_size must be between 1 and {DEFAULT_SF_QUERY_PAGE_SIZE}"
            )

    def __repr__(self) -> str:
        token = "<set>" if self.api_token else None
        return (
            f"FarmConfig(drift_rate={self.drift_rate}, malformed_rate={self.malformed_rate}, "
            f"unrepairable_share={self.unrepairable_share}, "
            f"catalogue_size={self.catalogue_size}, api_token={token}, "
            f"sot_failure_rate={self.sot_failure_rate}, sot_latency_ms={self.sot_latency_ms}, "
            f"renamed_share={self.renamed_share}, "
            f"string_number_share={self.string_number_share}, "
            f"case_share={self.case_share}, empty_share={self.empty_share}, "
            f"sf_client_id={self.sf_client_id!r}, sf_client_secret=<set>, "
            f"sf_session_ttl_s={self.sf_session_ttl_s}, "
            f"sf_daily_api_limit={self.sf_daily_api_limit}, "
            f"sf_query_page_size={self.sf_query_page_size})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> FarmConfig:
        """Build from `FARM_*` variables; raises ValueError naming the bad variable.

        `FARM_STAGE` (default `dev`) names the Chalice stage: any stage but dev, local and
        test refuses to start without `FARM_API_TOKEN`, or with the Salesforce client
        credentials unset or left at their development defaults, so that a deployed farm
        never serves the source of truth to anyone who finds its URL.
        """
        stage = environ.get("FARM_STAGE", "").strip() or "dev"
        token = environ.get("FARM_API_TOKEN", "").strip() or None
        if stage not in OPEN_STAGES:
            _require_closed(stage, environ, token)
        return cls(
            drift_rate=_float(environ, "FARM_DRIFT_RATE", DEFAULT_DRIFT_RATE),
            malformed_rate=_float(environ, "FARM_MALFORMED_RATE", DEFAULT_MALFORMED_RATE),
            unrepairable_share=_float(
                environ, "FARM_UNREPAIRABLE_SHARE", DEFAULT_UNREPAIRABLE_SHARE
            ),
            catalogue_size=_int(
                environ, "FARM_CATALOGUE_SIZE", DEFAULT_CATALOGUE_SIZE, 1, MAX_CATALOGUE_SIZE
            ),
            api_token=token,
            sot_failure_rate=_float(environ, "FARM_SOT_FAILURE_RATE", 0.0),
            sot_latency_ms=_int(environ, "FARM_SOT_LATENCY_MS", 0, 0, MAX_LATENCY_MS),
            renamed_share=_float(environ, "FARM_RENAMED_SHARE", DEFAULT_RENAMED_SHARE),
            string_number_share=_float(
                environ, "FARM_STRING_NUMBER_SHARE", DEFAULT_STRING_NUMBER_SHARE
            ),
            case_share=_float(environ, "FARM_CASE_SHARE", DEFAULT_CASE_SHARE),
            empty_share=_float(environ, "FARM_EMPTY_SHARE", DEFAULT_EMPTY_SHARE),
            sf_client_id=environ.get("FARM_SF_CLIENT_ID") or DEFAULT_SF_CLIENT_ID,
            sf_client_secret=environ.get("FARM_SF_CLIENT_SECRET") or DEFAULT_SF_CLIENT_SECRET,
            sf_session_ttl_s=_int(
                environ,
                "FARM_SF_SESSION_TTL_SECONDS",
                DEFAULT_SF_SESSION_TTL_S,
                1,
                MAX_SF_SESSION_TTL_S,
            ),
            sf_daily_api_limit=_int(
                environ,
                "FARM_SF_DAILY_API_LIMIT",
                DEFAULT_SF_DAILY_API_LIMIT,
                0,
                MAX_SF_DAILY_API_LIMIT,
            ),
            sf_query_page_size=_int(
                environ,
                "FARM_SF_QUERY_PAGE_SIZE",
                DEFAULT_SF_QUERY_PAGE_SIZE,
                1,
                DEFAULT_SF_QUERY_PAGE_SIZE,
            ),
        )


def _check_share(name: str, value: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number between 0 and 1, got {raw!r}")
    return value


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {raw!r}")
    return int(raw)


def _require_closed(stage: str, environ: Mapping[str, str], token: str | None) -> None:
    """Refuse a stage open to anyone: no API token, or development client credentials."""
    open_stages = ", ".join(sorted(OPEN_STAGES))
    if token is None:
        raise ValueError(
            f"FARM_API_TOKEN must be set in stage {stage!r} (FARM_STAGE); only "
            f"{open_stages} may run without a token"
        )
    for name, dev_default in (
        ("FARM_SF_CLIENT_ID", DEFAULT_SF_CLIENT_ID),
        ("FARM_SF_CLIENT_SECRET", DEFAULT_SF_CLIENT_SECRET),
    ):
        value = environ.get(name, "").strip()
        if not value or value == dev_default:
            raise ValueError(
                f"{name} must be set, to other than its development default, in stage "
                f"{stage!r} (FARM_STAGE); only {open_stages} may use the default"
            )
