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
and the Redis server's own time per EVALSHA (`INFO commandstats`). On a busy machine
every mean and median moves with the neighbours' load, so two figures resist it: the
CPU figures (the client thread's CPU time and the Redis server's own CPU, `INFO cpu`,
per batch; the write's CPU is the client's packing and reply reading plus Redis's), and
the floor figures (the fastest batch of each kind in a round). The headline, `isolated_*`,
times the statistics' own parts alone, many times, and keeps the fastest tenth: the
Python that builds the contributions and their arguments, and the same batch script
call with and without statistics on fresh ids (see `floor_costs`). The
summary gives the median and range over rounds.
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
from bench.sinks import AcceptingSink
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
    cpu_seconds: list[float] = field(default_factory=list)

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
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.inner.push(
                entries, source_id=source_id, received_at=received_at, stats=stats, retire=retire
            )
        finally:
            self.seconds.append(time.perf_counter() - started)
            self.cpu_seconds.append(time.thread_time() - cpu)


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


def server_cpu_seconds(client: redis.Redis) -> float:
    """CPU the Redis server has used so far (user + system), which neighbours' load on the
    machine does not inflate the way it inflates wall time."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def server_usec_per_call(client: redis.Redis) -> float:
    """Redis's own time per EVALSHA (INFO commandstats), which client load does not blur."""
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    return float(stats.get("usec_per_call", 0.0))


def python_extra(
    sources: tuple[IngestSidecar, IngestSidecar], texts: Sequence[str]
) -> tuple[float, float]:
    """The Python time statistics add (no Redis), over 200 paired batches: the median of
    the differences, and the difference of the fastest batches (a floor that other load
    on the machine can only raise)."""
    on, off = sources
    on.sink = off.sink = AcceptingSink()
    differences = []
    fastest = {"on": float("inf"), "off": float("inf")}
    for n in range(200):
        spent = {}
        for name, sidecar in (("on", on), ("off", off)) if n % 2 else (("off", off), ("on", on)):
            event = sqs_event(texts, id_prefix=f"py{n}")
            started = time.perf_counter()
            sidecar.handle_batch(event)
            spent[name] = time.perf_counter() - started
            fastest[name] = min(fastest[name], spent[name])
        differences.append(spent["on"] - spent["off"])
    return statistics.median(differences) * 1e6, (fastest["on"] - fastest["off"]) * 1e6


@dataclass
class CapturingSink(AcceptingSink):
    """StreamSink that keeps the last batch's arguments and reports every entry new."""

    entries: Sequence[SinkEntry] = ()
    stats: BatchStats | None = None
    received_at: str = ""

    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        """Keep the batch; pretend to write it."""
        self.entries, self.stats, self.received_at = entries, stats, received_at
        return super().push(entries, source_id=source_id, received_at=received_at)


def _fastest(samples: Sequence[float], share: float = 0.1) -> float:
    """Mean of the fastest `share` of `samples`: what a run costs when nothing else
    competes for the CPU (neighbours' load only ever adds)."""
    ordered = sorted(samples)
    keep = ordered[: max(1, int(len(ordered) * share))]
    return sum(keep) / len(keep)


def floor_costs(redis_url: str, source: DictSource, texts: Sequence[str], calls: int) -> Floor:
    """The statistics' own work, each part timed alone many times, fastest runs kept.

    Python: the contributions and their table (`_batch_stats`) and their arguments
    (`_stats_args`), fastest tenth. Redis: the same batch script call with and without
    statistics, each on fresh item ids (every item new, the common case), alternated; the
    extra is the median of adjacent pairs' differences, the write the fastest tenth of the
    calls without statistics.
    """
    from sidecar_fn.redis_sink import RedisStreamSink, _stats_args

    sidecar, _ = _sidecar(redis_url, source, str(35 * 24 * 3600))
    capture = CapturingSink()
    sidecar.sink = capture
    kept: dict[str, Any] = {}
    build = sidecar._batch_stats

    def spy(*args: Any) -> BatchStats:
        kept["args"] = args
        return build(*args)

    sidecar._batch_stats = spy  # type: ignore[method-assign,assignment]
    sidecar.handle_batch(sqs_event(texts, id_prefix="floor"))
    sidecar._batch_stats = build  # type: ignore[method-assign]
    stats = capture.stats
    assert stats is not None
    python = []
    for _ in range(calls):
        started = time.perf_counter()
        _stats_args(build(*kept["args"]))
        python.append(time.perf_counter() - started)
    client = redis.Redis.from_url(redis_url)
    tag = uuid.uuid4().hex[:8]
    sink = RedisStreamSink(
        client,
        stream=f"bench:{tag}:main",
        dlq_stream=f"bench:{tag}:dlq",
        seen_ttl_s=600,
        stream_maxlen=20000,
        dlq_maxlen=20000,
    )
    spent: dict[str, list[float]] = {"with": [], "without": []}
    inside: dict[str, list[float]] = {"with": [], "without": []}
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 4)
    for n in range(calls):
        for name in ("with", "without") if n % 2 else ("without", "with"):
            entries = [e._replace(item_id=f"{name}-{n}-{e.item_id}") for e in capture.entries]
            command = sink._pack(
                entries, f"bench-{tag}", capture.received_at, stats if name == "with" else None
            )
            client.slowlog_reset()
            started = time.perf_counter()
            sink._evalsha(command)
            spent[name].append(time.perf_counter() - started)
            logged = [e for e in client.slowlog_get(4) if b"EVALSHA" in e["command"][:16]]
            if logged:
                inside[name].append(logged[0]["duration"] / 1e6)
    client.config_set("slowlog-log-slower-than", 10000)
    client.close()
    pairs = zip(spent["with"], spent["without"], strict=True)
    return Floor(
        python_us=_fastest(python) * 1e6,
        write_with_us=_fastest(spent["with"]) * 1e6,
        write_without_us=_fastest(spent["without"]) * 1e6,
        script_extra_us=statistics.median(a - b for a, b in pairs) * 1e6,
        inside_with_us=_fastest(inside["with"]) * 1e6 if inside["with"] else 0.0,
        inside_without_us=_fastest(inside["without"]) * 1e6 if inside["without"] else 0.0,
    )


@dataclass(frozen=True)
class Floor:
    """Uncontended costs of one batch, microseconds."""

    python_us: float
    write_with_us: float
    write_without_us: float
    script_extra_us: float
    """Median over adjacent pairs of (call with statistics - call without)."""
    inside_with_us: float = 0.0
    """The script's own run time inside Redis (SLOWLOG duration), fastest tenth."""
    inside_without_us: float = 0.0

    @property
    def inside_share(self) -> float:
        """(Python + the script's extra run time inside Redis) / the call without."""
        extra = self.python_us + self.inside_with_us - self.inside_without_us
        return extra / self.write_without_us

    @property
    def extra_us(self) -> float:
        """Python work plus the script's extra work."""
        return self.python_us + self.script_extra_us

    @property
    def share(self) -> float:
        """The extra as a share of the write without statistics."""
        return self.extra_us / self.write_without_us


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
    floor_with: float
    """Fastest write with statistics in the round (microseconds)."""
    floor_without: float
    cpu_batch_with: float = 0.0
    """Client thread CPU per batch (whole batch path), microseconds."""
    cpu_batch_without: float = 0.0
    cpu_push_without: float = 0.0
    """Client thread CPU of the write (packing, sending, reading the reply) per batch."""
    redis_cpu_with: float = 0.0
    """Redis server CPU per batch, microseconds."""
    redis_cpu_without: float = 0.0
    python_floor: float = 0.0
    floor: Floor | None = None

    @property
    def cpu_extra(self) -> float:
        """CPU statistics add per batch: client and Redis server."""
        client = self.cpu_batch_with - self.cpu_batch_without
        return client + self.redis_cpu_with - self.redis_cpu_without

    @property
    def cpu_write(self) -> float:
        """CPU of the write without statistics: the client's share plus Redis's."""
        return self.cpu_push_without + self.redis_cpu_without

    @property
    def cpu_share(self) -> float:
        """The CPU extra as a share of the write's CPU."""
        return self.cpu_extra / self.cpu_write

    @property
    def floor_share(self) -> float:
        """(Python floor + write floor with - write floor without) / write floor without."""
        extra = self.python_floor + self.floor_with - self.floor_without
        return extra / self.floor_without

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
        cpu: dict[str, float] = {"on": 0.0, "off": 0.0}
        on_sink.seconds.clear()
        off_sink.seconds.clear()
        off_sink.cpu_seconds.clear()
        redis_before = [server_cpu_seconds(server) for server in servers]
        for n in range(batches):
            order = [("on", on), ("off", off)] if n % 2 else [("off", off), ("on", on)]
            for name, sidecar in order:
                event = sqs_event(texts, id_prefix=uuid.uuid4().hex)
                started, thread_cpu = time.perf_counter(), time.thread_time()
                sidecar.handle_batch(event)
                times[name].append(time.perf_counter() - started)
                cpu[name] += time.thread_time() - thread_cpu
        redis_used = [
            server_cpu_seconds(server) - before
            for server, before in zip(servers, redis_before, strict=True)
        ]
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
                floor_with=min(on_sink.seconds) * 1e6,
                floor_without=min(off_sink.seconds) * 1e6,
                cpu_batch_with=cpu["on"] / batches * 1e6,
                cpu_batch_without=cpu["off"] / batches * 1e6,
                cpu_push_without=sum(off_sink.cpu_seconds) / batches * 1e6,
                redis_cpu_with=redis_used[0] / batches * 1e6,
                redis_cpu_without=redis_used[1] / batches * 1e6,
            )
        )
    for result in results:
        result.floor = floor_costs(redis_urls[0], source, texts, calls=max(60, batches * 3))
    python_on, _ = _sidecar(redis_urls[0], source, str(35 * 24 * 3600))
    python_off, _ = _sidecar(redis_urls[1], source, "0")
    for result in results:
        result.python, result.python_floor = python_extra((python_on, python_off), texts)
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
        "cpu_us_client_batch_with_stats": spread([r.cpu_batch_with for r in results]),
        "cpu_us_client_batch_without_stats": spread([r.cpu_batch_without for r in results]),
        "cpu_us_redis_with_stats": spread([r.redis_cpu_with for r in results]),
        "cpu_us_redis_without_stats": spread([r.redis_cpu_without for r in results]),
        "cpu_us_write_without_stats": spread([r.cpu_write for r in results]),
        "cpu_us_extra_per_batch": spread([r.cpu_extra for r in results]),
        "cpu_extra_share_of_write_pct": spread([100 * r.cpu_share for r in results]),
        "isolated_python_us": spread([r.floor.python_us for r in results if r.floor]),
        "isolated_write_us_with_stats": spread([r.floor.write_with_us for r in results if r.floor]),
        "isolated_write_us_without_stats": spread(
            [r.floor.write_without_us for r in results if r.floor]
        ),
        "isolated_script_extra_us": spread([r.floor.script_extra_us for r in results if r.floor]),
        "isolated_extra_us": spread([r.floor.extra_us for r in results if r.floor]),
        "inside_redis_us_with_stats": spread([r.floor.inside_with_us for r in results if r.floor]),
        "inside_redis_us_without_stats": spread(
            [r.floor.inside_without_us for r in results if r.floor]
        ),
        "inside_extra_share_of_write_pct": spread(
            [100 * r.floor.inside_share for r in results if r.floor]
        ),
        "isolated_extra_share_of_write_pct": spread(
            [100 * r.floor.share for r in results if r.floor]
        ),
        "write_floor_us_with_stats": spread([r.floor_with for r in results]),
        "write_floor_us_without_stats": spread([r.floor_without for r in results]),
        "python_floor_extra_us": spread([r.python_floor for r in results]),
        "floor_share_of_write_pct": spread([100 * r.floor_share for r in results]),
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
