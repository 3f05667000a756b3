"""Connecting the runner to its services: Redis (real or embedded), the farm, the sidecar."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from local.farm_stream import FarmError, FarmStream
from sidecar_fn.redaction import redact_url

__all__ = ["redact_url"]

EMBEDDED_REDIS = "embedded (fakeredis, in memory)"
DEFAULT_STREAM = "aos:invoices"
DEFAULT_DLQ_STREAM = "aos:invoices:dlq"


class SetupError(Exception):
    """A service the run needs is missing or unreachable; the message is one clear line."""


@dataclass
class RedisConnection:
    """A Redis client and how to describe it (URL without password, or embedded)."""

    client: redis.Redis
    description: str
    embedded: bool


def connect_redis(url: str | None) -> RedisConnection:
    """A client on `url` that answered PING, or an embedded in-memory Redis when `url` is None."""
    if url is None:
        import fakeredis

        return RedisConnection(fakeredis.FakeRedis(), EMBEDDED_REDIS, embedded=True)
    shown = redact_url(url)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise SetupError(f"Redis URL {shown!r} must start with redis://, rediss:// or unix://")
    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=3,
            socket_timeout=5,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2),
            health_check_interval=30,
        )
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise SetupError(f"Redis unreachable at {shown}: {exc}") from exc
    return RedisConnection(client, shown, embedded=False)


@contextlib.contextmanager
def farm_url(url: str | None) -> Iterator[str]:
    """`url` itself, or the URL of a farm started in this process for the run's duration."""
    if url is not None:
        if not url.startswith(("http://", "https://")):
            raise SetupError(f"farm URL {url!r} must start with http:// or https://")
        yield url.rstrip("/")
        return
    try:
        from local.farm_server import start_farm
    except ImportError as exc:
        raise SetupError(f"the in-process farm is not available ({exc}); pass --farm-url") from exc
    try:
        server = start_farm()
    except Exception as exc:
        raise SetupError(f"cannot start the in-process farm: {exc}") from exc
    with server:
        yield server.url


def check_farm(stream: FarmStream) -> None:
    """Fail with one line unless the farm serves a one-record page."""
    try:
        stream.fetch(0, 1)
    except FarmError as exc:
        raise SetupError(str(exc)) from exc


def sidecar_environment(
    base: Mapping[str, str],
    *,
    redis_url: str | None,
    farm_url: str,
    source_id: str | None,
    stream: str | None,
    dlq_stream: str | None,
    schema: str | None = None,
) -> dict[str, str]:
    """The sidecar's environment: `base` with the runner's flags written over it."""
    env = dict(base)
    overrides = {
        "REDIS_URL": redis_url,
        "FARM_URL": farm_url,
        "AOS_SOURCE_ID": source_id,
        "AOS_STREAM": stream,
        "AOS_DLQ_STREAM": dlq_stream,
        "AOS_SCHEMA": schema,
    }
    env.update({name: value for name, value in overrides.items() if value is not None})
    return env


SOT_KINDS = ("farm", "salesforce")
FARM_SF_DEFAULTS = {
    "FARM_SF_CLIENT_ID": "aos-farm-dev-client",
    "FARM_SF_CLIENT_SECRET": "aos-farm-dev-secret",
}


def source_of_truth_environment(
    env: Mapping[str, str], *, sot: str | None, farm_url: str
) -> dict[str, str]:
    """`env` with the adapter the run repairs from: `sot` (else $AOS_SOT_KIND, else farm).

    With `salesforce` and no SALESFORCE_LOGIN_URL, the sidecar logs in to the run's farm
    with the farm's client credentials (FARM_SF_CLIENT_ID/SECRET or their dev defaults).
    """
    result = dict(env)
    kind = sot or result.get("AOS_SOT_KIND") or "farm"
    if kind not in SOT_KINDS:
        raise SetupError(f"source of truth {kind!r} must be one of {', '.join(SOT_KINDS)}")
    result["AOS_SOT_KIND"] = kind
    if kind == "salesforce" and not result.get("SALESFORCE_LOGIN_URL"):
        result["SALESFORCE_LOGIN_URL"] = farm_url
        if not result.get("SALESFORCE_CREDENTIALS_SECRET_ARN"):
            for sidecar_name, farm_name in (
                ("SALESFORCE_CLIENT_ID", "FARM_SF_CLIENT_ID"),
                ("SALESFORCE_CLIENT_SECRET", "FARM_SF_CLIENT_SECRET"),
            ):
                if not result.get(sidecar_name):
                    result[sidecar_name] = result.get(farm_name) or FARM_SF_DEFAULTS[farm_name]
    return result


def build_sidecar(env: Mapping[str, str], redis_client: redis.Redis) -> Any:
    """The sidecar built from `env` exactly as the handler builds it, on `redis_client`,
    logging to stderr (stdout is the summary's)."""
    try:
        from sidecar_fn.errors import SidecarError
        from sidecar_fn.settings import Settings
        from sidecar_fn.telemetry import build_logger
        from sidecar_fn.wiring import build_sidecar as wire
    except ImportError as exc:
        raise SetupError(f"the sidecar package cannot be imported: {exc}") from exc
    try:
        settings = Settings.from_env(env)
        logger = build_logger(settings.service_name, stream=sys.stderr)
        return wire(settings, redis_client=redis_client, logger=logger)
    except (SidecarError, ValueError, OSError) as exc:
        raise SetupError(f"invalid sidecar configuration: {exc}") from exc


def deadline_reserve(env: Mapping[str, str]) -> float:
    """The sidecar's deadline reserve in seconds (AOS_DEADLINE_RESERVE_SECONDS)."""
    try:
        from sidecar_fn.errors import SidecarError
        from sidecar_fn.settings import Settings
    except ImportError as exc:
        raise SetupError(f"the sidecar package cannot be imported: {exc}") from exc
    try:
        return Settings.from_env(env).deadline_reserve_s
    except SidecarError as exc:
        raise SetupError(f"invalid sidecar configuration: {exc}") from exc


def stream_names(env: Mapping[str, str]) -> tuple[str, str]:
    """The main and dead-letter stream keys the sidecar writes to."""
    return env.get("AOS_STREAM", DEFAULT_STREAM), env.get("AOS_DLQ_STREAM", DEFAULT_DLQ_STREAM)


def configure_sidecar_output(level: str | None) -> None:
    """Quieten the sidecar for a terminal run: log level ERROR and no EMF metric documents,
    unless `level` or the environment (POWERTOOLS_LOG_LEVEL, POWERTOOLS_METRICS_DISABLED)
    chose otherwise."""
    if level is not None:
        os.environ["POWERTOOLS_LOG_LEVEL"] = level
    else:
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
