"""The Redis client speaks RESP2 whatever redis-py's default protocol is."""

from __future__ import annotations

import redis

from sidecar_fn.redis_cluster import RESP_VERSION
from sidecar_fn.settings import Settings
from sidecar_fn.wiring import build_redis_client


def test_standalone_client_asks_for_resp2_and_its_timeouts() -> None:
    client = build_redis_client(Settings(redis_timeout_s=1.5))
    assert isinstance(client, redis.Redis)
    kwargs = client.connection_pool.connection_kwargs
    assert RESP_VERSION == 2
    assert kwargs["protocol"] == 2
    assert kwargs["socket_timeout"] == 1.5 and kwargs["socket_connect_timeout"] == 1.5
