"""Composition root: settings in, a ready IngestSidecar out."""

from __future__ import annotations

import redis
from aws_lambda_powertools import Logger
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from sidecar_fn.breaker import CircuitBreaker
from sidecar_fn.ports import MetricsSink, SourceOfTruth
from sidecar_fn.redis_sink import RedisStreamSink
from sidecar_fn.schema import load_schema
from sidecar_fn.secrets import read_token
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.source_cache import CachedSourceOfTruth, CacheMetrics
from sidecar_fn.source_http import HttpSourceOfTruth
from sidecar_fn.telemetry import EmfMetrics, build_logger


def build_redis_client(settings: Settings) -> redis.Redis:
    """A Redis client for `settings.redis_url` (TLS with `rediss://`), bounded timeouts and
    one quick retry, so that an unreachable Redis fails a batch in seconds, not minutes.

    No periodic health-check PING: the batch write is the only round trip, and the sink
    reconnects and retries once when a pooled connection turns out to be dead."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        socket_keepalive=True,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.2), retries=1),
    )


def farm_token(settings: Settings) -> str | None:
    """The source-of-truth token: FARM_API_TOKEN, else the FARM_API_TOKEN_SECRET_ARN secret."""
    if settings.farm_api_token:
        return settings.farm_api_token
    if settings.farm_api_token_secret_arn:
        return read_token(settings.farm_api_token_secret_arn)
    return None


def build_source(settings: Settings) -> HttpSourceOfTruth:
    """The HTTP source of truth described by `settings`."""
    return HttpSourceOfTruth(
        settings.farm_url,
        token=farm_token(settings),
        timeout_s=settings.sot_timeout_s,
        max_attempts=settings.sot_max_attempts,
        backoff_s=settings.sot_backoff_s,
        chunk_size=settings.sot_chunk_size,
        concurrency=settings.sot_concurrency,
        keepalive=settings.sot_keepalive,
        default_budget_s=settings.sot_budget_s,
        breaker=CircuitBreaker(settings.breaker_threshold, settings.breaker_reset_s),
    )


def with_lookup_cache(
    source: SourceOfTruth, metrics: MetricsSink, settings: Settings
) -> tuple[SourceOfTruth, MetricsSink]:
    """The source behind a lookup cache, and metrics counting its hits, when
    AOS_SOT_CACHE_TTL_SECONDS is set; both unchanged otherwise."""
    if not settings.sot_cache_ttl_s:
        return source, metrics
    cache = CachedSourceOfTruth(
        source, ttl_s=settings.sot_cache_ttl_s, max_entries=settings.sot_cache_max_entries
    )
    return cache, CacheMetrics(metrics, cache)


def build_sidecar(
    settings: Settings,
    *,
    redis_client: redis.Redis | None = None,
    source: SourceOfTruth | None = None,
    metrics: MetricsSink | None = None,
    logger: Logger | None = None,
) -> IngestSidecar:
    """Build the sidecar; real clients are made for whatever is not given."""
    client = redis_client if redis_client is not None else build_redis_client(settings)
    sink = RedisStreamSink(
        client,
        stream=settings.stream,
        dlq_stream=settings.dlq_stream,
        seen_ttl_s=settings.seen_ttl_s,
        stream_maxlen=settings.stream_maxlen,
        dlq_maxlen=settings.dlq_maxlen,
    )
    source, metrics = with_lookup_cache(
        source if source is not None else build_source(settings),
        metrics
        if metrics is not None
        else EmfMetrics(namespace=settings.metrics_namespace, service=settings.service_name),
        settings,
    )
    return IngestSidecar(
        source_id=settings.source_id,
        schema=load_schema(settings.schema_path),
        source=source,
        sink=sink,
        logger=logger if logger is not None else build_logger(settings.service_name),
        metrics=metrics,
        default_budget_s=settings.sot_budget_s,
        deadline_reserve_s=settings.deadline_reserve_s,
        verify_share=settings.verify_share,
    )
