"""Composition root: settings in, a ready IngestSidecar out."""

from __future__ import annotations

from typing import cast

import httpx
import redis
from aws_lambda_powertools import Logger
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from sidecar_fn.breaker import CircuitBreaker
from sidecar_fn.errors import SettingsError
from sidecar_fn.eviction import check_eviction_policy
from sidecar_fn.keys import key_names
from sidecar_fn.ports import MetricsSink, SourceOfTruth
from sidecar_fn.redis_cluster import RESP_VERSION, ClusterRoute, build_cluster_client
from sidecar_fn.redis_sink import RedisStreamSink
from sidecar_fn.salesforce_auth import CredentialSource, secret_credentials, static_credentials
from sidecar_fn.salesforce_fields import field_mapping
from sidecar_fn.schema import Schema, load_schema
from sidecar_fn.secrets import SecretToken, StaticToken, TokenSource, read_redis_password
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.source_cache import CachedSourceOfTruth, CacheMetrics
from sidecar_fn.source_calls import SourceCalls
from sidecar_fn.source_http import HttpSourceOfTruth
from sidecar_fn.source_salesforce import SalesforceSourceOfTruth
from sidecar_fn.telemetry import EmfMetrics, build_logger


def build_redis_client(settings: Settings) -> redis.Redis | RedisCluster:
    """A Redis client for `settings.redis_url` (TLS with `rediss://`), bounded timeouts and
    one quick retry, so that an unreachable Redis fails a batch in seconds, not minutes.

    No periodic health-check PING: the batch write is the only round trip, and the sink
    reconnects and retries once when a pooled connection turns out to be dead.
    With AOS_REDIS_CLUSTER=true, a cluster client discovering the topology from REDIS_URL.
    With REDIS_AUTH_SECRET_ARN, the password comes from that secret (read now, once), so
    that it is not in the function's environment."""
    password = (
        read_redis_password(settings.redis_auth_secret_arn)
        if settings.redis_auth_secret_arn
        else None
    )
    if settings.redis_cluster:
        return build_cluster_client(settings.redis_url, settings.redis_timeout_s, password)
    return redis.Redis.from_url(
        settings.redis_url,
        password=password,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        socket_keepalive=True,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.2), retries=1),
        protocol=RESP_VERSION,
    )


def farm_tokens(settings: Settings) -> TokenSource | None:
    """Where the source-of-truth token comes from: FARM_API_TOKEN, else the
    FARM_API_TOKEN_SECRET_ARN secret (re-read after AOS_TOKEN_MAX_AGE_SECONDS and on 401)."""
    if settings.farm_api_token:
        return StaticToken(settings.farm_api_token)
    if settings.farm_api_token_secret_arn:
        return SecretToken(settings.farm_api_token_secret_arn, max_age_s=settings.token_max_age_s)
    return None


def farm_token(settings: Settings) -> str | None:
    """The source-of-truth token to send now, if any."""
    tokens = farm_tokens(settings)
    return tokens.current() if tokens is not None else None


def source_calls(settings: Settings) -> SourceCalls:
    """Retries, deadline, breaker and concurrency for a Salesforce source, from `settings`."""
    return SourceCalls(
        timeout_s=settings.sot_timeout_s,
        max_attempts=settings.sot_max_attempts,
        backoff_s=settings.sot_backoff_s,
        concurrency=settings.sot_concurrency,
        default_budget_s=settings.sot_budget_s,
        breaker=CircuitBreaker(settings.breaker_threshold, settings.breaker_reset_s),
    )


def salesforce_credentials(settings: Settings) -> CredentialSource:
    """SALESFORCE_CLIENT_ID + SALESFORCE_CLIENT_SECRET, else the secret's JSON."""
    if settings.salesforce_client_id and settings.salesforce_client_secret:
        return static_credentials(settings.salesforce_client_id, settings.salesforce_client_secret)
    if settings.salesforce_credentials_secret_arn:
        return secret_credentials(settings.salesforce_credentials_secret_arn)
    raise SettingsError("no Salesforce credentials configured")


def build_salesforce_source(
    settings: Settings,
    schema: Schema,
    *,
    metrics: MetricsSink | None = None,
    logger: Logger | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SalesforceSourceOfTruth:
    """The Salesforce source of truth described by `settings`, mapped for `schema`."""
    if settings.salesforce_login_url is None:
        raise SettingsError("AOS_SOT_KIND=salesforce needs SALESFORCE_LOGIN_URL")
    return SalesforceSourceOfTruth(
        settings.salesforce_login_url,
        salesforce_credentials(settings),
        field_mapping(schema, settings.salesforce_external_id_field),
        calls=source_calls(settings),
        api_version=settings.salesforce_api_version,
        sobject=settings.salesforce_object,
        max_ids=settings.sot_chunk_size,
        keepalive=True,
        metrics=metrics,
        logger=logger,
        transport=transport,
    )


def build_source(settings: Settings) -> HttpSourceOfTruth:
    """The HTTP source of truth described by `settings`; its token is read (and validated)
    now, so that a missing or invalid secret fails the cold start, not each batch."""
    tokens = farm_tokens(settings)
    if tokens is not None:
        tokens.current()
    return HttpSourceOfTruth(
        settings.farm_url,
        token_source=tokens,
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


def build_sink(settings: Settings, client: redis.Redis | RedisCluster) -> RedisStreamSink:
    """The stream sink on `client`: routed by hash slot on a cluster client."""
    cluster = isinstance(client, RedisCluster)
    route = ClusterRoute(client) if isinstance(client, RedisCluster) else None
    return RedisStreamSink(
        cast(redis.Redis, client),
        stream=settings.stream,
        dlq_stream=settings.dlq_stream,
        seen_ttl_s=settings.seen_ttl_s,
        stream_maxlen=settings.stream_maxlen,
        dlq_maxlen=settings.dlq_maxlen,
        route=route,
        keys=key_names(settings.stream, settings.dlq_stream, cluster=cluster),
        wait_replicas=settings.redis_wait_replicas,
    )


def build_sidecar(
    settings: Settings,
    *,
    redis_client: redis.Redis | RedisCluster | None = None,
    source: SourceOfTruth | None = None,
    metrics: MetricsSink | None = None,
    logger: Logger | None = None,
) -> IngestSidecar:
    """Build the sidecar; real clients are made for whatever is not given. Redis's eviction
    policy is checked here, once per cold start (see eviction)."""
    client = redis_client if redis_client is not None else build_redis_client(settings)
    schema = load_schema(settings.schema_path)
    if logger is None:
        logger = build_logger(settings.service_name)
    if metrics is None:
        metrics = EmfMetrics(namespace=settings.metrics_namespace, service=settings.service_name)
    if source is None and settings.sot_kind == "salesforce":
        source = build_salesforce_source(settings, schema, metrics=metrics, logger=logger)
    check_eviction_policy(client, logger)
    sink = build_sink(settings, client)
    source, metrics = with_lookup_cache(
        source if source is not None else build_source(settings), metrics, settings
    )
    return IngestSidecar(
        source_id=settings.source_id,
        schema=schema,
        source=source,
        sink=sink,
        logger=logger,
        metrics=metrics,
        default_budget_s=settings.sot_budget_s,
        deadline_reserve_s=settings.deadline_reserve_s,
        stats_ttl_s=settings.stats_ttl_s,
        verify_share=settings.verify_share,
        dedupe_fields=settings.dedupe_key,
        write_part=settings.write_part_records,
    )
