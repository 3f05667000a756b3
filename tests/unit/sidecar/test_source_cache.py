"""The lookup cache: TTL from the fetch, only records kept, bounded, partial answers, metrics."""

from __future__ import annotations

from typing import Any

import fakeredis
import orjson
import pytest

from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.settings import Settings
from sidecar_fn.source_cache import CachedSourceOfTruth, CacheMetrics, CacheStats
from sidecar_fn.wiring import build_sidecar

from .fakes import FakeSource, RecordingMetrics, pristine


def sqs(body: bytes, prefix: str) -> dict[str, Any]:
    return {
        "Records": [{"messageId": f"{prefix}0", "body": body.decode(), "eventSource": "aws:sqs"}]
    }


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cached(
    ttl_s: float = 60.0, max_entries: int = 100
) -> tuple[CachedSourceOfTruth, FakeSource, Clock]:
    source, clock = FakeSource(), Clock()
    return (
        CachedSourceOfTruth(source, ttl_s=ttl_s, max_entries=max_entries, clock=clock),
        source,
        clock,
    )


def test_a_repeated_id_is_answered_without_a_request() -> None:
    cache, source, _ = cached()
    assert cache.fetch_many(["INV-1", "INV-2"]) == {
        "INV-1": pristine("INV-1"),
        "INV-2": pristine("INV-2"),
    }
    assert cache.fetch_many(["INV-2", "INV-3"], budget_s=4.0) == {
        "INV-2": pristine("INV-2"),
        "INV-3": pristine("INV-3"),
    }
    assert source.calls == [(["INV-1", "INV-2"], None), (["INV-3"], 4.0)]
    assert cache.stats == CacheStats(hits=1, misses=3, entries=3)
    assert cache.stats.hit_rate == 0.25


def test_an_answer_is_never_served_once_ttl_old_counting_from_the_request() -> None:
    cache, source, clock = cached(ttl_s=10.0)
    cache.fetch_many(["INV-1"])
    clock.now += 9.999
    cache.fetch_many(["INV-1"])
    assert len(source.calls) == 1
    clock.now += 0.001
    cache.fetch_many(["INV-1"])
    assert len(source.calls) == 2


def test_a_slow_answer_ages_from_when_it_was_asked_for() -> None:
    clock = Clock()

    class SlowSource(FakeSource):
        def fetch_many(self, ids, *, budget_s=None):  # type: ignore[no-untyped-def]
            clock.now += 4.0
            return super().fetch_many(ids, budget_s=budget_s)

    source = SlowSource()
    cache = CachedSourceOfTruth(source, ttl_s=5.0, clock=clock)
    cache.fetch_many(["INV-1"])
    clock.now += 1.0
    cache.fetch_many(["INV-1"])
    assert len(source.calls) == 2


def test_unknown_ids_are_kept_too_until_the_ttl() -> None:
    cache, source, clock = cached(ttl_s=10.0)
    assert cache.fetch_many(["INV-0"]) == {"INV-0": None}
    assert cache.fetch_many(["INV-0"]) == {"INV-0": None}
    assert len(source.calls) == 1
    clock.now += 10.0
    source.overrides["INV-0"] = pristine("INV-1") | {"invoice_id": "INV-0"}
    assert cache.fetch_many(["INV-0"]) == {"INV-0": pristine("INV-1") | {"invoice_id": "INV-0"}}
    assert len(source.calls) == 2


def test_unanswered_ids_are_not_kept() -> None:
    cache, source, _ = cached()
    source.unanswered = {"INV-1"}
    assert cache.fetch_many(["INV-1"]) == {}
    source.unanswered = set()
    assert cache.fetch_many(["INV-1"]) == {"INV-1": pristine("INV-1")}
    assert len(source.calls) == 2


def test_the_least_recently_used_record_goes_first() -> None:
    cache, source, _ = cached(max_entries=2)
    cache.fetch_many(["INV-1", "INV-2"])
    cache.fetch_many(["INV-1"])
    cache.fetch_many(["INV-3"])
    assert cache.stats.entries == 2
    cache.fetch_many(["INV-1", "INV-2"])
    assert source.calls[-1] == (["INV-2"], None)


def test_source_down_answers_the_cached_ids_and_leaves_the_rest_out() -> None:
    cache, source, _ = cached()
    cache.fetch_many(["INV-1"])
    source.error = SourceUnavailable("down")
    assert cache.fetch_many(["INV-1", "INV-2"]) == {"INV-1": pristine("INV-1")}
    with pytest.raises(SourceUnavailable):
        cache.fetch_many(["INV-2"])


@pytest.mark.parametrize(("ttl_s", "max_entries"), [(0.0, 10), (-1.0, 10), (5.0, 0)])
def test_bad_bounds_are_refused(ttl_s: float, max_entries: int) -> None:
    with pytest.raises(ValueError):
        CachedSourceOfTruth(FakeSource(), ttl_s=ttl_s, max_entries=max_entries)


def test_metrics_carry_each_batch_s_hits_and_misses() -> None:
    cache, _, _ = cached()
    recorded = RecordingMetrics()
    metrics = CacheMetrics(recorded, cache)
    cache.fetch_many(["INV-1", "INV-2"])
    metrics.publish({"clean": 1})
    cache.fetch_many(["INV-1"])
    metrics.publish({"clean": 2})
    assert recorded.published == [
        {"clean": 1, "sot_cache_hits": 0, "sot_cache_misses": 2},
        {"clean": 2, "sot_cache_hits": 1, "sot_cache_misses": 0},
    ]


def test_wiring_adds_the_cache_only_when_its_ttl_is_set() -> None:
    client = fakeredis.FakeRedis()
    source, recorded = FakeSource(), RecordingMetrics()
    plain = build_sidecar(Settings(), redis_client=client, source=source, metrics=recorded)
    assert plain.source is source
    on = Settings.from_env({"AOS_SOT_CACHE_TTL_SECONDS": "30", "AOS_SOT_CACHE_MAX_ENTRIES": "5"})
    sidecar = build_sidecar(on, redis_client=client, source=source, metrics=recorded)
    assert isinstance(sidecar.source, CachedSourceOfTruth)
    assert sidecar.source.inner is source
    assert isinstance(sidecar.metrics, CacheMetrics)
    assert Settings.from_env({"AOS_SOT_CACHE_TTL_SECONDS": "0"}).sot_cache_ttl_s == 0.0


def test_an_update_of_a_cached_invoice_is_repaired_without_a_request() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    source, recorded = FakeSource(), RecordingMetrics()
    settings = Settings(source_id="c", stream="c:main", dlq_stream="c:dlq", sot_cache_ttl_s=60.0)
    sidecar = build_sidecar(settings, redis_client=client, source=source, metrics=recorded)
    drifted = orjson.dumps({"invoice_id": "INV-7", "total_amount": 8.75, "status": "PAID"})
    update = orjson.dumps({"invoice_id": "INV-7", "total_amount": 9.0, "status": "VOID"})
    first = sidecar.handle_batch(sqs(drifted, prefix="a"))
    second = sidecar.handle_batch(sqs(update, prefix="b"))
    assert first.counts["repaired"] == second.counts["repaired"] == 1
    assert len(source.calls) == 1
    payloads = [orjson.loads(f[b"envelope"])["payload"] for _, f in client.xrange("c:main")]
    assert [p["vendor_id"] for p in payloads] == [pristine("INV-7")["vendor_id"]] * 2
    assert payloads[1]["status"] == "VOID"
    assert [m["sot_cache_hits"] for m in recorded.published] == [0, 1]
