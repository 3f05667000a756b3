"""bench.stats_cost runs end to end on tiny settings (its figures are not asserted)."""

from __future__ import annotations

import pytest

from bench.services import private_redis
from bench.stats_cost import measure, summary
from local.farm_server import start_farm

pytestmark = pytest.mark.integration


def test_stats_cost_measures_every_figure(redis_url: str) -> None:
    with (
        start_farm() as farm,
        private_redis(redis_url) as first,
        private_redis(redis_url) as second,
    ):
        results = measure(farm.url, (first, second), batch_size=50, batches=2, rounds=1, seed=3)
    report = summary(results)
    assert report["rounds"] == 1
    for name in ("isolated_python_us", "inside_redis_us_with_stats", "cpu_us_write_without_stats"):
        assert report[name]["median"] > 0, name
