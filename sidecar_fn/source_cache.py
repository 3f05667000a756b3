"""A SourceOfTruth that keeps pristine answers per container for a bounded time.

Wraps another SourceOfTruth. A warm Lambda container keeps the cache between
invocations, so an invoice seen again (a redelivery, a later update of the same
invoice) is repaired without a request. Rules:

- an answer is never served once it is `ttl_s` old; its age counts from the moment the
  request that fetched it was sent, so a slow answer ages, it is not refreshed;
- "unknown id" answers (None) are kept too, under the same TTL: a batch of repeats then
  needs no request at all (measured: with unknown ids asked again, nearly every batch
  still sent one). The price: an invoice that reaches the source of truth after its id
  was answered unknown stays unknown here for at most the TTL, and a record of it seen
  meanwhile is dead-lettered `unrepairable` (`aos redrive` replays it); keep the TTL
  short where that race is common. Ids the source could not answer now are never kept;
- at most `max_entries` records, the least recently used dropped first;
- when the wrapped source is unavailable, ids held in the cache are still answered and
  the rest are left out (the port's "could not answer now").

Hand-written rather than `cachetools.TTLCache`: a stdlib OrderedDict covers it in a few
lines, keeps the Lambda package free of another dependency, and lets the fetch time (not
the store time) start an entry's clock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.ports import MetricsSink, SourceOfTruth, SourceRecord

DEFAULT_MAX_ENTRIES = 10_000


class CacheStats(NamedTuple):
    """Lookups answered from the cache (`hits`) and passed on (`misses`) so far."""

    hits: int
    misses: int
    entries: int

    @property
    def lookups(self) -> int:
        """Ids asked for, hits plus misses."""
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Share of lookups answered from the cache (0 before any lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0


class CachedSourceOfTruth:
    """SourceOfTruth that answers from a per-container TTL cache before asking `inner`."""

    def __init__(
        self,
        inner: SourceOfTruth,
        *,
        ttl_s: float,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not ttl_s > 0:
            raise ValueError("ttl_s must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.inner = inner
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, SourceRecord | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @property
    def stats(self) -> CacheStats:
        """Hits, misses and entries held right now."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries))

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, SourceRecord | None]:
        """See SourceOfTruth.fetch_many."""
        result: dict[str, SourceRecord | None] = {}
        missing: list[str] = []
        now = self._clock()
        oldest = now - self._ttl_s
        with self._lock:
            entries = self._entries
            for invoice_id in dict.fromkeys(ids):
                entry = entries.get(invoice_id)
                if entry is not None and entry[0] > oldest:
                    entries.move_to_end(invoice_id)
                    result[invoice_id] = entry[1]
                elif entry is not None:
                    del entries[invoice_id]
                    missing.append(invoice_id)
                else:
                    missing.append(invoice_id)
            self._hits += len(result)
            self._misses += len(missing)
        if not missing:
            return result
        sent_at = self._clock()
        try:
            fetched = self.inner.fetch_many(missing, budget_s=budget_s)
        except SourceUnavailable:
            if not result:
                raise
            return result
        with self._lock:
            for invoice_id, record in fetched.items():
                self._entries[invoice_id] = (sent_at, record)
                self._entries.move_to_end(invoice_id)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        result.update(fetched)
        return result


class CacheMetrics:
    """MetricsSink that adds the cache's hits and misses since the last batch to each set."""

    def __init__(self, inner: MetricsSink, cache: CachedSourceOfTruth) -> None:
        self.inner = inner
        self._cache = cache
        self._last = CacheStats(0, 0, 0)

    def publish(self, counts: Mapping[str, int]) -> None:
        """Publish `counts` plus `sot_cache_hits` and `sot_cache_misses` for this batch."""
        now = self._cache.stats
        hits, misses = now.hits - self._last.hits, now.misses - self._last.misses
        self._last = now
        self.inner.publish({**counts, "sot_cache_hits": hits, "sot_cache_misses": misses})

    def publish_by_field(self, metric: str, counts: Mapping[str, int]) -> None:
        """Pass per-field counters through."""
        self.inner.publish_by_field(metric, counts)
