"""The Redis eviction policy, checked once per cold start: only `noeviction` keeps the
idempotency markers safe under memory pressure."""

from __future__ import annotations

from typing import Any, Protocol

import redis
from aws_lambda_powertools import Logger

SAFE_POLICY = "noeviction"


class _Info(Protocol):
    def info(self, section: str) -> Any: ...


def eviction_risk(policy: str) -> str | None:
    """Why `policy` can cost duplicates, or None when it cannot (`noeviction`)."""
    if policy == SAFE_POLICY:
        return None
    if policy.startswith("volatile-"):
        return (
            "under memory pressure Redis evicts keys with a TTL first, and the idempotency "
            "markers are the only ones: redeliveries are then written again (duplicates)"
        )
    return (
        "under memory pressure Redis evicts any key, idempotency markers (duplicates) and "
        "stream entries (lost records) alike"
    )


def _policy_of(answer: Any) -> str | None:
    """The policy in an INFO answer: one server's, or (cluster) the first risky node's."""
    if not isinstance(answer, dict):
        return None
    policy = answer.get("maxmemory_policy")
    if isinstance(policy, str):
        return policy
    nodes = [_policy_of(node) for node in answer.values() if isinstance(node, dict)]
    found = [node for node in nodes if node is not None]
    risky = [node for node in found if eviction_risk(node) is not None]
    chosen = risky or found
    return chosen[0] if chosen else None


def check_eviction_policy(client: _Info, logger: Logger) -> str | None:
    """Read `maxmemory_policy` (INFO memory, which ElastiCache allows; CONFIG it does not)
    and log a warning when it can evict the markers. Returns the policy, None when Redis
    could not be asked (logged at debug level, never raised: the batch write will meet the
    same Redis)."""
    try:
        answer = client.info("memory")
    except redis.RedisError as exc:
        logger.debug(
            "Could not read the Redis eviction policy.", extra={"error": type(exc).__name__}
        )
        return None
    policy = _policy_of(answer)
    if policy is None:
        return None
    risk = eviction_risk(policy)
    if risk is not None:
        logger.warning(
            f"Redis maxmemory-policy is {policy}: {risk}. Set maxmemory-policy noeviction.",
            extra={"maxmemory_policy": policy},
        )
    return policy
