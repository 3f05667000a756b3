"""`python -m bench.stats_cost`: what the drift statistics add to a batch, against the write.

Two sidecars, each on its own private redis-server, share one in-memory copy of the source of truth
(fetched once from the farm, so that the source's latency does not blur the figure): one
keeps statistics (the default), the other runs with `AOS_STATS_TTL_SECONDS=0`. Both take
the same chaos batches under fresh item ids, interleaved; the write is the batch script
call (`StreamSink.push`) of the sidecar without statistics. The extra cost of a round is
the median, over its batches, of the difference between a batch with statistics and the
adjacent one without (paired, so that load from other processes cancels out as far as it
can). Because other processes do blur that difference, the headline figure adds its two
components measured apart: the Python time (paired batches on a sink that writes nothing)
and the Redis server's own time per EVALSHA (`INFO commandstats`). The summary gives the
median and range over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis

from bench.events import StreamSpec, fetch_stream, sqs_event
from bench.services import private_redis
from local.farm_server import start_farm
from sidecar_fn.drift_stats import BatchStats
from sidecar_fn.ports import PushResult, Retirement, SinkEntry, SourceRecord, StreamSink
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.source_http import HttpSourceOfTruth
from sidecar_fn.telemetry import NullMetrics
from sidecar_fn.wiring import build_sidecar


class DictSource:
    """SourceOfTruth answering from memory."""

    def __init__(self, records: Mapping[str, SourceRecord | None]) -> None:
        self._records = dict(records)

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, SourceRecord | None]:
        """Every id it was given, from memory."""
        return {i: self._records.get(i) for i in ids}


@dataclass
class TimedSink:
    """StreamSink wrapper that keeps the duration of each push."""

    inner: StreamSink
    seconds: list[float] = field(default_factory=list)

    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        """Push through the wrapped sink, timed."""
        started = time.perf_counter()
        try:
            return self.inner.push(
                entries, source_id=source_id, received_at=received_at, stats=stats, retire=retire
            )
        finally:
            self.seconds.append(time.perf_counter() - started)


def _sidecar(redis_url: str, source: DictSource, stats_ttl: str) -> tuple[IngestSidecar, TimedSink]:
    tag = uuid.uuid4().hex[:8]
    env = {
        "REDIS_URL": redis_url,
        "AOS_SOURCE_ID": f"bench-stats-{tag}",
        "AOS_STREAM": f"bench:{tag}:main",
        "AOS_DLQ_STREAM": f"bench:{tag}:dlq",
        "AOS_STATS_TTL_SECONDS": stats_ttl,
        "AOS_STREAM_MAXLEN": "20000",
        "AOS_DLQ_MAXLEN": "20000",
    }
    sidecar = build_sidecar(
        Settings.from_env(env),
        redis_client=redis.Redis.from_url(redis_url),
        source=source,
        metrics=NullMetrics(),
    )
    timed = TimedSink(sidecar.sink)
    sidecar.sink = timed
    return sidecar, timed


@dataclass
class NoWriteSink:
    """StreamSink that records nothing and reports every entry new (times Python alone)."""

    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        """Pretend to write."""
        return [PushResult(True, entry.outcome) for entry in entries]


def server_usec_per_call(client: redis.Redis) -> float:
    """Redis's own time per EVALSHA (INFO commandstats), which client load does not blur."""
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    return float(stats.get("usec_per_call", 0.0))


def python_extra(sources: tuple[IngestSidecar, IngestSidecar], texts: Sequence[str]) -> float:
    """Median over 200 paired batches of the Python time statistics add (no Redis)."""
    on, off = sources
    on.sink = off.sink = NoWriteSink()
    differences = []
    for n in range(200):
        spent = {}
        for name, sidecar in (("on", on), ("off", off)) if n % 2 else (("off", off), ("on", on)):
            event = sqs_event(texts, id_prefix=f"py{n}")
            started = time.perf_counter()
            sidecar.handle_batch(event)
            spent[name] = time.perf_counter() - started
        differences.append(spent["on"] - spent["off"])
    return statistics.median(differences) * 1e6


def _truth(farm_url: str, texts: Sequence[str]) -> DictSource:
    ids = set()
    for text in texts:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("invoice_id"), str):
            ids.add(value["invoice_id"])
    http = HttpSourceOfTruth(farm_url, default_budget_s=60.0)
    valid = sorted(i for i in ids if i.startswith("INV-") and i[4:].isdigit() and len(i) <= 16)
    return DictSource(http.fetch_many(valid, budget_s=60.0))


@dataclass
class Round:
    """Per-batch medians of one round, in microseconds."""

    batch_with: float
    batch_without: float
    write_with: float
    write_without: float
    extra: float
    """Median over batches of (batch with statistics - the adjacent batch without)."""
    server_with: float
    server_without: float
    python: float

    @property
    def components(self) -> float:
        """Python time plus Redis server time that statistics add."""
        return self.python + self.server_with - self.server_without

    @property
    def share(self) -> float:
        """The paired end-to-end extra as a share of the write."""
        return self.extra / self.write_without

    @property
    def components_share(self) -> float:
        """The component sum as a share of the write."""
        return self.components / self.write_without


def measure(
    farm_url: str,
    redis_urls: tuple[str, str],
    *,
    batch_size: int,
    batches: int,
    rounds: int,
    seed: int,
) -> list[Round]:
    """Interleaved runs of both sidecars; one Round per round."""
    with httpx.Client(timeout=30) as client:
        texts = fetch_stream(
            client, farm_url, StreamSpec(chaos=True, seed=seed), cursor=0, count=batch_size
        )
    source = _truth(farm_url, texts)
    on, on_sink = _sidecar(redis_urls[0], source, str(35 * 24 * 3600))
    off, off_sink = _sidecar(redis_urls[1], source, "0")
    servers = [redis.Redis.from_url(url, decode_responses=True) for url in redis_urls]
    results = []
    for _ in range(rounds):
        for server in servers:
            server.config_resetstat()
        times: dict[str, list[float]] = {"on": [], "off": []}
        on_sink.seconds.clear()
        off_sink.seconds.clear()
        for n in range(batches):
            order = [("on", on), ("off", off)] if n % 2 else [("off", off), ("on", on)]
            for name, sidecar in order:
                event = sqs_event(texts, id_prefix=uuid.uuid4().hex)
                started = time.perf_counter()
                sidecar.handle_batch(event)
                times[name].append(time.perf_counter() - started)
        differences = [a - b for a, b in zip(times["on"], times["off"], strict=True)]
        results.append(
            Round(
                batch_with=statistics.median(times["on"]) * 1e6,
                batch_without=statistics.median(times["off"]) * 1e6,
                write_with=statistics.median(on_sink.seconds) * 1e6,
                write_without=statistics.median(off_sink.seconds) * 1e6,
                extra=statistics.median(differences) * 1e6,
                server_with=server_usec_per_call(servers[0]),
                server_without=server_usec_per_call(servers[1]),
                python=0.0,
            )
        )
    python_on, _ = _sidecar(redis_urls[0], source, str(35 * 24 * 3600))
    python_off, _ = _sidecar(redis_urls[1], source, "0")
    for result in results:
        result.python = python_extra((python_on, python_off), texts)
    return results


def summary(results: Sequence[Round]) -> dict[str, Any]:
    """Median and range over rounds of each figure."""

    def spread(values: list[float]) -> dict[str, float]:
        return {
            "median": round(statistics.median(values), 1),
            "min": round(min(values), 1),
            "max": round(max(values), 1),
        }

    return {
        "rounds": len(results),
        "batch_us_with_stats": spread([r.batch_with for r in results]),
        "batch_us_without_stats": spread([r.batch_without for r in results]),
        "write_us_with_stats": spread([r.write_with for r in results]),
        "write_us_without_stats": spread([r.write_without for r in results]),
        "redis_server_us_with_stats": spread([r.server_with for r in results]),
        "redis_server_us_without_stats": spread([r.server_without for r in results]),
        "python_extra_us": spread([r.python for r in results]),
        "extra_us_python_plus_server": spread([r.components for r in results]),
        "extra_share_of_write_pct": spread([100 * r.components_share for r in results]),
        "paired_end_to_end_extra_us": spread([r.extra for r in results]),
        "paired_share_of_write_pct": spread([100 * r.share for r in results]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and print a table (and JSON with --json)."""
    parser = argparse.ArgumentParser(prog="python -m bench.stats_cost", description=__doc__)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--batches", type=int, default=40, help="batches per sidecar per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    fallback = os.environ.get("REDIS_URL")
    with start_farm() as farm, private_redis(fallback) as first, private_redis(fallback) as second:
        results = measure(
            farm.url,
            (first, second),
            batch_size=args.batch_size,
            batches=args.batches,
            rounds=args.rounds,
            seed=args.seed,
        )
    report = summary(results)
    print(f"drift statistics cost, {args.batch_size}-record chaos batches, {args.rounds} rounds")
    for name, value in report.items():
        if isinstance(value, dict):
            print(f"  {name:<28} median {value['median']:>9.1f}  [{value['min']}, {value['max']}]")
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
