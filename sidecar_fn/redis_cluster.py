"""Redis Cluster (ElastiCache cluster mode, ElastiCache Serverless): client and batch routing.

The batch call is hand-packed (see sidecar_fn.redis_sink), so it cannot use the cluster
client's own command routing; this route uses the client's slot table to pick the primary
owning the batch's hash slot, and on MOVED, ASK, TRYAGAIN, CLUSTERDOWN or a dropped
connection re-reads the topology from the cluster and tries again after a short pause,
long enough for a coordinated failover (`CLUSTER FAILOVER`, an ElastiCache primary
replacement) to finish. A slot still moving when the tries run out leaves the batch
unwritten: its records are handed back and redelivered, which the script's idempotency
makes safe.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster
from redis.exceptions import ClusterDownError, RedisClusterException, SlotNotCoveredError
from redis.retry import Retry

RESP_VERSION = 2
"""The protocol the clients speak, whatever redis-py's default (RESP3 since redis-py 8):
every Redis and ElastiCache engine answers RESP2 (RESP3 needs HELLO, Redis 6+), and the
sink's hand-packed batch call reads its reply the same way on either."""


def build_cluster_client(url: str, timeout_s: float, password: str | None = None) -> RedisCluster:
    """A cluster client that discovers the topology from `url`, which may name any node
    (or the ElastiCache configuration / Serverless endpoint); `password` when the URL
    carries none."""
    return RedisCluster.from_url(
        url,
        password=password,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_keepalive=True,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.2), retries=1),
        protocol=RESP_VERSION,
    )


class ClusterRoute:
    """ScriptRoute on a cluster client: the pool of the primary owning the slot."""

    def __init__(
        self,
        client: RedisCluster,
        *,
        attempts: int = 6,
        backoff_s: float = 0.1,
        max_backoff_s: float = 1.6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.attempts = attempts
        self._backoff = (backoff_s, max_backoff_s)
        self._sleep = sleep

    def pool(self, slot_key: bytes) -> redis.ConnectionPool:
        """The connection pool of the primary that owns `slot_key`'s slot."""
        try:
            node = self._client.get_node_from_key(slot_key)  # type: ignore[no-untyped-call]
        except SlotNotCoveredError as exc:
            raise ClusterDownError(str(exc)) from exc
        pool: redis.ConnectionPool = self._client.get_redis_connection(node).connection_pool
        return pool

    def rerouted(self, error: redis.RedisError, attempt: int) -> None:
        """Pause (doubling from `backoff_s`), then re-read the slot table from the cluster."""
        base, cap = self._backoff
        self._sleep(min(cap, base * 2 ** (attempt - 1)))
        # When no node answers yet, the next try fails fast and pauses longer.
        with contextlib.suppress(redis.RedisError, RedisClusterException):
            self._client.nodes_manager.initialize()
