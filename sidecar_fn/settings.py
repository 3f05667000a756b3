"""Sidecar configuration: a frozen dataclass built once from the environment."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from sidecar_fn.dedupe import parse_dedupe_fields
from sidecar_fn.errors import SettingsError
from sidecar_fn.keys import key_names, tagged_stream_names
from sidecar_fn.redaction import redact_url
from sidecar_fn.secrets import DEFAULT_MAX_AGE_S, visible_token

_T = TypeVar("_T")

SEVEN_DAYS_S = 7 * 24 * 3600
THIRTY_FIVE_DAYS_S = 35 * 24 * 3600

URL_SETTINGS = frozenset({"REDIS_URL", "FARM_URL"})
SECRET_SETTINGS = frozenset({"FARM_API_TOKEN"})


def _shown(name: str, raw: str) -> str:
    """How a bad value appears in its error: URLs redacted, secrets not at all."""
    if name in SECRET_SETTINGS:
        return name
    if name in URL_SETTINGS:
        return f"{name}={redact_url(raw)!r}"
    return f"{name}={raw!r}"


def _read(environ: Mapping[str, str], name: str, default: _T, convert: Callable[[str], _T]) -> _T:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return convert(raw)
    except ValueError as exc:
        raise SettingsError(f"{_shown(name, raw)} is invalid: {exc}") from None


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be zero or a positive integer")
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


def _check_tls(name: str, url: str, scheme: str) -> None:
    if not url.startswith(scheme):
        raise SettingsError(
            f"{name}={redact_url(url)!r} is refused: AOS_REQUIRE_TLS=true needs {scheme}"
        )


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw.rstrip("/")


def _text(raw: str) -> str:
    return raw


SOT_KINDS = ("farm", "salesforce")
_API_VERSION = re.compile(r"[1-9][0-9]\.0", re.ASCII)
_SF_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}", re.ASCII)


def _sot_kind(raw: str) -> str:
    if raw not in SOT_KINDS:
        raise ValueError(f"must be one of {', '.join(SOT_KINDS)}")
    return raw


def _api_version(raw: str) -> str:
    value = raw.removeprefix("v")
    if _API_VERSION.fullmatch(value) is None:
        raise ValueError("must look like 59.0")
    return value


def _sf_name(raw: str) -> str:
    if _SF_NAME.fullmatch(raw) is None:
        raise ValueError("must be a Salesforce API name (letters, digits, _)")
    return raw


def _token(raw: str) -> str:
    try:
        return visible_token(raw, "FARM_API_TOKEN")
    except SettingsError as exc:
        raise ValueError(str(exc).removeprefix("FARM_API_TOKEN holds ")) from None


@dataclass(frozen=True)
class Settings:
    """Everything the sidecar reads from its environment (docs/contract.md section 6).

    The API token is kept out of `repr` so that a logged settings object never carries it.
    """

    redis_url: str = "redis://localhost:6379/0"
    farm_url: str = "http://127.0.0.1:8000"
    farm_api_token: str | None = field(default=None, repr=False)
    farm_api_token_secret_arn: str | None = None
    token_max_age_s: int = DEFAULT_MAX_AGE_S
    stream: str = "aos:invoices"
    dlq_stream: str = "aos:invoices:dlq"
    source_id: str = "mulesoft-invoices"
    schema_path: str | None = None
    seen_ttl_s: int = SEVEN_DAYS_S
    stats_ttl_s: int = THIRTY_FIVE_DAYS_S
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
    write_part_records: int = 100
    dedupe_key: tuple[str, ...] = ()
    redis_cluster: bool = False
    redis_wait_replicas: int = 0
    sot_kind: str = "farm"
    salesforce_login_url: str | None = None
    salesforce_client_id: str | None = None
    salesforce_client_secret: str | None = field(default=None, repr=False)
    salesforce_credentials_secret_arn: str | None = None
    salesforce_api_version: str = "59.0"
    salesforce_object: str = "Invoice__c"
    salesforce_external_id_field: str = "Invoice_Number__c"
    redis_auth_secret_arn: str | None = None
    require_tls: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment variables; raise SettingsError on a bad value."""
        d = cls()
        chunk = _read(environ, "AOS_SOT_CHUNK_SIZE", d.sot_chunk_size, _positive_int)
        cluster = _read(environ, "AOS_REDIS_CLUSTER", d.redis_cluster, _flag)
        source_id = _read(environ, "AOS_SOURCE_ID", d.source_id, _text)
        stream_default, dlq_default = (
            tagged_stream_names(source_id) if cluster else (d.stream, d.dlq_stream)
        )
        stream = _read(environ, "AOS_STREAM", stream_default, _text)
        dlq_stream = _read(environ, "AOS_DLQ_STREAM", dlq_default, _text)
        if cluster:
            try:
                key_names(stream, dlq_stream, cluster=True)
            except ValueError as exc:
                raise SettingsError(f"AOS_REDIS_CLUSTER=true: {exc}") from None
        if chunk > 200:
            raise SettingsError(f"AOS_SOT_CHUNK_SIZE={chunk} is invalid: at most 200 ids")
        kind = _read(environ, "AOS_SOT_KIND", d.sot_kind, _sot_kind)
        login_url = _read(environ, "SALESFORCE_LOGIN_URL", None, _http_url)
        client_id = _read(environ, "SALESFORCE_CLIENT_ID", None, _text)
        client_secret = _read(environ, "SALESFORCE_CLIENT_SECRET", None, _text)
        secret_arn = _read(environ, "SALESFORCE_CREDENTIALS_SECRET_ARN", None, _text)
        if kind == "salesforce":
            if login_url is None:
                raise SettingsError("AOS_SOT_KIND=salesforce needs SALESFORCE_LOGIN_URL")
            if secret_arn is None and (client_id is None or client_secret is None):
                raise SettingsError(
                    "AOS_SOT_KIND=salesforce needs SALESFORCE_CLIENT_ID and "
                    "SALESFORCE_CLIENT_SECRET, or SALESFORCE_CREDENTIALS_SECRET_ARN"
                )
        redis_url = _read(environ, "REDIS_URL", d.redis_url, _redis_url)
        farm_url = _read(environ, "FARM_URL", d.farm_url, _http_url)
        require_tls = _read(environ, "AOS_REQUIRE_TLS", d.require_tls, _flag)
        if require_tls:
            _check_tls("REDIS_URL", redis_url, "rediss://")
            if kind == "farm":
                _check_tls("FARM_URL", farm_url, "https://")
            if login_url is not None:
                _check_tls("SALESFORCE_LOGIN_URL", login_url, "https://")
        return cls(
            sot_kind=kind,
            salesforce_login_url=login_url,
            salesforce_client_id=client_id,
            salesforce_client_secret=client_secret,
            salesforce_credentials_secret_arn=secret_arn,
            salesforce_api_version=_read(
                environ, "SALESFORCE_API_VERSION", d.salesforce_api_version, _api_version
            ),
            salesforce_object=_read(environ, "SALESFORCE_OBJECT", d.salesforce_object, _sf_name),
            salesforce_external_id_field=_read(
                environ, "SALESFORCE_EXTERNAL_ID_FIELD", d.salesforce_external_id_field, _sf_name
            ),
            redis_url=redis_url,
            farm_url=farm_url,
            require_tls=require_tls,
            redis_auth_secret_arn=_read(environ, "REDIS_AUTH_SECRET_ARN", None, _text),
            farm_api_token=_read(environ, "FARM_API_TOKEN", None, _token),
            farm_api_token_secret_arn=_read(environ, "FARM_API_TOKEN_SECRET_ARN", None, _text),
            token_max_age_s=_read(
                environ, "AOS_TOKEN_MAX_AGE_SECONDS", d.token_max_age_s, _positive_int
            ),
            stream=stream,
            dlq_stream=dlq_stream,
            source_id=source_id,
            schema_path=_read(environ, "AOS_SCHEMA", None, _text),
            seen_ttl_s=_read(environ, "AOS_SEEN_TTL_SECONDS", d.seen_ttl_s, _positive_int),
            stats_ttl_s=_read(environ, "AOS_STATS_TTL_SECONDS", d.stats_ttl_s, _non_negative_int),
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
            write_part_records=_read(
                environ, "AOS_WRITE_PART_RECORDS", d.write_part_records, _non_negative_int
            ),
            dedupe_key=_read(environ, "AOS_DEDUPE_KEY", d.dedupe_key, parse_dedupe_fields),
            redis_cluster=cluster,
            redis_wait_replicas=_read(
                environ, "AOS_REDIS_WAIT_REPLICAS", d.redis_wait_replicas, _non_negative_int
            ),
        )
