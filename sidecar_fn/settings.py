"""Sidecar configuration: a frozen dataclass built once from the environment."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from sidecar_fn.errors import SettingsError

_T = TypeVar("_T")

SEVEN_DAYS_S = 7 * 24 * 3600


def _read(environ: Mapping[str, str], name: str, default: _T, convert: Callable[[str], _T]) -> _T:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return convert(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is invalid: {exc}") from None


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _finite(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _positive_float(raw: str) -> float:
    value = _finite(raw)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(raw: str) -> float:
    value = _finite(raw)
    if not value >= 0:
        raise ValueError("must be zero or a positive number")
    return value


def _share(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be a number from 0 to 1")
    return value


def _flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return raw


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw.rstrip("/")


def _text(raw: str) -> str:
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything the sidecar reads from its environment (docs/contract.md section 6).

    The API token is kept out of `repr` so that a logged settings object never carries it.
    """

    redis_url: str = "redis://localhost:6379/0"
    farm_url: str = "http://127.0.0.1:8000"
    farm_api_token: str | None = field(default=None, repr=False)
    farm_api_token_secret_arn: str | None = None
    stream: str = "aos:invoices"
    dlq_stream: str = "aos:invoices:dlq"
    source_id: str = "mulesoft-invoices"
    schema_path: str | None = None
    seen_ttl_s: int = SEVEN_DAYS_S
    stream_maxlen: int | None = None
    dlq_maxlen: int | None = None
    redis_timeout_s: float = 2.0
    sot_timeout_s: float = 2.0
    sot_max_attempts: int = 3
    sot_backoff_s: float = 0.05
    sot_chunk_size: int = 200
    sot_concurrency: int = 4
    sot_keepalive: bool = False
    sot_budget_s: float = 10.0
    deadline_reserve_s: float = 1.0
    breaker_threshold: int = 5
    breaker_reset_s: float = 10.0
    metrics_namespace: str = "AOS/Ingest"
    service_name: str = "aos-sidecar"
    verify_share: float = 0.05
    sot_cache_ttl_s: float = 0.0
    sot_cache_max_entries: int = 10_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment variables; raise SettingsError on a bad value."""
        d = cls()
        chunk = _read(environ, "AOS_SOT_CHUNK_SIZE", d.sot_chunk_size, _positive_int)
        if chunk > 200:
            raise SettingsError(f"AOS_SOT_CHUNK_SIZE={chunk} is invalid: at most 200 ids")
        return cls(
            redis_url=_read(environ, "REDIS_URL", d.redis_url, _redis_url),
            farm_url=_read(environ, "FARM_URL", d.farm_url, _http_url),
            farm_api_token=_read(environ, "FARM_API_TOKEN", None, _text),
            farm_api_token_secret_arn=_read(environ, "FARM_API_TOKEN_SECRET_ARN", None, _text),
            stream=_read(environ, "AOS_STREAM", d.stream, _text),
            dlq_stream=_read(environ, "AOS_DLQ_STREAM", d.dlq_stream, _text),
            source_id=_read(environ, "AOS_SOURCE_ID", d.source_id, _text),
            schema_path=_read(environ, "AOS_SCHEMA", None, _text),
            seen_ttl_s=_read(environ, "AOS_SEEN_TTL_SECONDS", d.seen_ttl_s, _positive_int),
            stream_maxlen=_read(environ, "AOS_STREAM_MAXLEN", None, _positive_int),
            dlq_maxlen=_read(environ, "AOS_DLQ_MAXLEN", None, _positive_int),
            redis_timeout_s=_read(
                environ, "AOS_REDIS_TIMEOUT_SECONDS", d.redis_timeout_s, _positive_float
            ),
            sot_timeout_s=_read(
                environ, "AOS_SOT_TIMEOUT_SECONDS", d.sot_timeout_s, _positive_float
            ),
            sot_max_attempts=_read(
                environ, "AOS_SOT_MAX_ATTEMPTS", d.sot_max_attempts, _positive_int
            ),
            sot_backoff_s=_read(
                environ, "AOS_SOT_BACKOFF_SECONDS", d.sot_backoff_s, _non_negative_float
            ),
            sot_chunk_size=chunk,
            sot_concurrency=_read(environ, "AOS_SOT_CONCURRENCY", d.sot_concurrency, _positive_int),
            sot_keepalive=_read(environ, "AOS_SOT_KEEPALIVE", d.sot_keepalive, _flag),
            sot_budget_s=_read(environ, "AOS_SOT_BUDGET_SECONDS", d.sot_budget_s, _positive_float),
            deadline_reserve_s=_read(
                environ, "AOS_DEADLINE_RESERVE_SECONDS", d.deadline_reserve_s, _non_negative_float
            ),
            breaker_threshold=_read(
                environ, "AOS_SOT_BREAKER_THRESHOLD", d.breaker_threshold, _positive_int
            ),
            breaker_reset_s=_read(
                environ, "AOS_SOT_BREAKER_RESET_SECONDS", d.breaker_reset_s, _positive_float
            ),
            metrics_namespace=_read(
                environ, "POWERTOOLS_METRICS_NAMESPACE", d.metrics_namespace, _text
            ),
            service_name=_read(environ, "POWERTOOLS_SERVICE_NAME", d.service_name, _text),
            verify_share=_read(environ, "AOS_VERIFY_SHARE", d.verify_share, _share),
            sot_cache_ttl_s=_read(
                environ, "AOS_SOT_CACHE_TTL_SECONDS", d.sot_cache_ttl_s, _non_negative_float
            ),
            sot_cache_max_entries=_read(
                environ, "AOS_SOT_CACHE_MAX_ENTRIES", d.sot_cache_max_entries, _positive_int
            ),
        )
