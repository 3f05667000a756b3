"""A Redis eviction policy that can drop idempotency markers is reported once per cold start."""

from __future__ import annotations

import pytest

from sidecar_fn.eviction import eviction_risk
from tests.unit.sidecar.fakes import CapturedLogger

from .batches import clean
from .conftest import SidecarFactory, sidecar_env
from .delivery import deliver
from .evil_sot import EvilSourceOfTruth
from .redis_server import PrivateRedis

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


@pytest.mark.parametrize(
    ("policy", "warned"),
    [
        ("volatile-lru", True),
        ("volatile-ttl", True),
        ("allkeys-lru", True),
        ("noeviction", False),
    ],
)
def test_the_policy_is_checked_once_per_cold_start(
    policy: str,
    warned: bool,
    private_redis: PrivateRedis,
    evil_sot: EvilSourceOfTruth,
    make_sidecar: SidecarFactory,
    unique_keys: dict[str, str],
) -> None:
    admin = private_redis.client()
    admin.config_set("maxmemory-policy", policy)
    captured = CapturedLogger()
    sidecar = make_sidecar(
        sidecar_env(unique_keys, private_redis.url, evil_sot.url), logger=captured.logger
    )
    deliver(sidecar, [("a", clean(1)), ("b", clean(2))])
    deliver(sidecar, [("c", clean(3))])
    admin.close()
    warnings = [line for line in captured.lines if line["level"] == "WARNING"]
    if warned:
        [line] = warnings
        assert policy in line["message"] and "noeviction" in line["message"]
        assert line["maxmemory_policy"] == policy
    else:
        assert warnings == []


def test_every_policy_but_noeviction_is_a_risk() -> None:
    assert eviction_risk("noeviction") is None
    assert "duplicates" in (eviction_risk("volatile-lfu") or "")
    assert "lost records" in (eviction_risk("allkeys-random") or "")
