"""The benchmark: scenarios side by side, counting passes, cold start, runner memory."""

from __future__ import annotations

import argparse
import importlib
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis

from bench.coldstart import import_seconds, lambda_layout
from bench.counting import (
    RoundTripCounter,
    SoTCountingProxy,
    commandstats,
    commandstats_delta,
    counting_redis,
)
from bench.events import LambdaContext, RecordPool, StreamSpec, drifted_ids, sqs_event
from bench.measure import (
    Handle,
    Samples,
    quiet_stdout,
    run_runner,
    run_sequential,
)
from bench.per_record import ReferenceConfig, build_reference
from bench.processes import WorkerJob, run_processes
from bench.report import Row, render_table, to_json
from bench.services import BenchKeys, env_with, private_redis

SOT_CHUNK = 200
Builder = Callable[[str, BenchKeys], tuple[Handle, RoundTripCounter]]


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of every part of the benchmark."""

    batch_size: int = 500
    drift_rate: float = 0.15
    repeats: int = 5
    batches_per_repeat: int = 20
    reference_batches: int = 2
    count_batches: int = 4
    concurrency: int = 5
    latency_ms: int = 50
    import_runs: int = 7
    runner_counts: tuple[int, int] = (10_000, 100_000)
    chalice: bool = True
    in_process: bool = True
    latency: bool = True
    runner: bool = True
    cold_start: bool = True


QUICK = BenchConfig(
    repeats=3,
    batches_per_repeat=6,
    reference_batches=1,
    count_batches=2,
    import_runs=5,
    runner_counts=(2_000, 20_000),
)

SMOKE = BenchConfig(
    batch_size=50,
    repeats=1,
    batches_per_repeat=2,
    reference_batches=1,
    count_batches=2,
    concurrency=2,
    import_runs=1,
    runner_counts=(100, 1_000),
    chalice=False,
)


# --- building the code under test ---------------------------------------------------------


def sidecar_builder(redis_url: str) -> Builder:
    """Build `IngestSidecar.handle_batch` through the composition root, with counted Redis."""

    def build(farm_url: str, keys: BenchKeys) -> tuple[Handle, RoundTripCounter]:
        from sidecar_fn.settings import Settings
        from sidecar_fn.wiring import build_sidecar

        settings = Settings.from_env({"REDIS_URL": redis_url, "FARM_URL": farm_url, **keys.env()})
        client, counter = counting_redis(redis_url)
        sidecar = build_sidecar(settings, redis_client=client)
        return sidecar.handle_batch, counter

    return build


def reference_builder(redis_url: str) -> Builder:
    """Build the per-record reference with counted Redis."""

    def build(farm_url: str, keys: BenchKeys) -> tuple[Handle, RoundTripCounter]:
        client, counter = counting_redis(redis_url)
        config = ReferenceConfig(
            source_id=keys.source_id,
            stream=keys.stream,
            dlq_stream=keys.dlq_stream,
            farm_url=farm_url,
        )
        return build_reference(config, redis_client=client).handle_batch, counter

    return build


def outcome_of(result: Any) -> tuple[dict[str, int], int]:
    """Outcome counts and the number of items to redeliver from any handler's result."""
    if isinstance(result, dict):
        return {}, len(result.get("batchItemFailures", []))
    failures = len(result.lambda_response()["batchItemFailures"])
    return dict(result.counts), failures


# --- counting passes ----------------------------------------------------------------------


@dataclass
class CountPass:
    """Per-batch SoT requests, drifted ids and Redis round trips of one implementation."""

    name: str
    sot: list[int] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    round_trips: list[int] = field(default_factory=list)
    sot_ms: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)

    @property
    def sot_within_limit(self) -> bool:
        """At most one SoT request per 200 drifted ids in every batch."""
        return all(s <= math.ceil(i / SOT_CHUNK) for s, i in zip(self.sot, self.ids, strict=True))

    def mean(self, values: Sequence[int]) -> float:
        """Mean per batch."""
        return statistics.fmean(values) if values else 0.0


def count_pass(
    name: str,
    build: Builder,
    proxy: SoTCountingProxy,
    admin: redis.Redis,
    warm_texts: Sequence[str],
    batch_texts: Sequence[Sequence[str]],
) -> CountPass:
    """Run batches one at a time through the counting proxy and a counted Redis client."""
    keys = BenchKeys.fresh("count")
    handle, counter = build(proxy.url, keys)
    context = LambdaContext()
    result = CountPass(name)
    try:
        with quiet_stdout():
            handle(sqs_event(warm_texts), context)
        before = commandstats(admin)
        for texts in batch_texts:
            event = sqs_event(texts)
            result.ids.append(len(drifted_ids(event)))
            proxy.reset()
            trips = counter.round_trips
            with quiet_stdout():
                report = handle(event, context)
            seen = proxy.counts()
            result.sot.append(seen.sot_requests)
            result.sot_ms.append(seen.upstream_seconds * 1000)
            result.round_trips.append(counter.round_trips - trips)
            counts, _ = outcome_of(report)
            for outcome, number in counts.items():
                if number:
                    result.counts[outcome] = result.counts.get(outcome, 0) + number
        result.commands = commandstats_delta(before, commandstats(admin))
        result.commands.pop("info", None)
    finally:
        keys.delete(admin)
    return result


# --- timed scenarios ----------------------------------------------------------------------


@dataclass
class Scenario:
    """One timed configuration: the handler under test and the stream it reads."""

    name: str
    pool: RecordPool
    handle: Handle
    keys: BenchKeys
    batches_per_repeat: int
    batch_size: int
    counters: list[RoundTripCounter] = field(default_factory=list)
    note: str = ""
    samples: Samples = field(default_factory=Samples)
    counts: Counter[str] = field(default_factory=Counter)
    failures: int = 0
    processed: int = 0
    timed_batches: int = 0
    timed_round_trips: int = 0
    cpu_seconds: float = 0.0
    admin: redis.Redis | None = None
    server_commands: Counter[str] = field(default_factory=Counter)
    server_usec: int = 0

    def _events(self, batches: int) -> list[dict[str, Any]]:
        texts = self.pool.take(batches * self.batch_size)
        return [
            sqs_event(texts[start : start + self.batch_size])
            for start in range(0, len(texts), self.batch_size)
        ]

    def _run(self, events: list[dict[str, Any]]) -> float:
        with quiet_stdout():
            elapsed, results = run_sequential(self.handle, events)
        for result in results:
            counts, failures = outcome_of(result)
            self.counts.update(counts)
            self.failures += failures
        self.processed += sum(len(event["Records"]) for event in events)
        return elapsed

    def warm_up(self) -> None:
        """One untimed batch: connections, script load, lazy imports."""
        with quiet_stdout():
            _, results = run_sequential(self.handle, self._events(1))
        self.processed += self.batch_size
        for result in results:
            self.counts.update(outcome_of(result)[0])

    def run_repeat(self) -> None:
        """Time one repeat and keep its records per second."""
        events = self._events(self.batches_per_repeat)
        trips = sum(counter.round_trips for counter in self.counters)
        admin = self.admin
        before = commandstats(admin) if admin is not None else {}
        usec = commandstats(admin, "usec") if admin is not None else {}
        cpu = time.process_time()
        elapsed = self._run(events)
        self.cpu_seconds += time.process_time() - cpu
        if admin is not None:
            self.server_commands.update(commandstats_delta(before, commandstats(admin)))
            self.server_commands["info"] -= 2
            spent = commandstats_delta(usec, commandstats(admin, "usec"))
            spent.pop("info", None)
            if "evalsha" in spent:
                spent = {"evalsha": spent["evalsha"], "script": spent.get("script", 0)}
            self.server_usec += sum(spent.values())
        self.timed_round_trips += sum(counter.round_trips for counter in self.counters) - trips
        self.timed_batches += len(events)
        self.samples.rates.append(sum(len(event["Records"]) for event in events) / elapsed)

    def reconcile(self, admin: redis.Redis) -> dict[str, Any]:
        """Stream entries against records processed; then delete the scenario's keys."""
        main, dlq = self.keys.stream_lengths(admin)
        self.keys.delete(admin)
        return {
            "processed": self.processed,
            "main_entries": main,
            "dlq_entries": dlq,
            "failures": self.failures,
            "reconciled": main + dlq + self.failures == self.processed,
            "counts": dict(self.counts),
        }

    def row(self, admin: redis.Redis) -> Row:
        """The table row of this scenario (ratio filled in by the caller)."""
        rt = self.timed_round_trips / self.timed_batches if self.counters else None
        extra = {"rates": self.samples.rates, **self.reconcile(admin)}
        extra["concurrency"] = 1
        extra["process_cpu_ms_per_batch"] = 1000 * self.cpu_seconds / max(self.timed_batches, 1)
        batches = max(self.timed_batches, 1)
        per_batch = {
            name: calls / batches for name, calls in sorted(self.server_commands.items()) if calls
        }
        extra["server_commands_per_batch"] = per_batch
        extra["redis_server_ms_per_batch"] = self.server_usec / 1000 / batches
        note = self.note
        if not self.counters and "evalsha" in per_batch:
            note += f"; {per_batch['evalsha']:g} EVALSHA per batch (INFO commandstats)"
        return Row(
            scenario=self.name,
            rate_median=self.samples.median,
            rate_low=self.samples.low,
            rate_high=self.samples.high,
            redis_rt_per_batch=rt,
            note=note,
            extra=extra,
        )


def make_scenario(
    name: str,
    build: Builder,
    farm_url: str,
    pool: RecordPool,
    config: BenchConfig,
    *,
    batches_per_repeat: int | None = None,
    note: str = "",
) -> Scenario:
    """A scenario with a freshly built handler and a key space of its own."""
    keys = BenchKeys.fresh(name.split()[0].lower())
    handle, counter = build(farm_url, keys)
    return Scenario(
        name=name,
        pool=pool,
        handle=handle,
        counters=[counter],
        keys=keys,
        batches_per_repeat=batches_per_repeat or config.batches_per_repeat,
        batch_size=config.batch_size,
        note=note,
    )


def handler_scenario(
    redis_url: str, farm_url: str, pool: RecordPool, config: BenchConfig, admin: redis.Redis
) -> Scenario:
    """`sidecar_fn.handler.handler` exactly as Lambda calls it, configured by the environment."""
    keys = BenchKeys.fresh("handler")
    os.environ.update({"REDIS_URL": redis_url, "FARM_URL": farm_url, **keys.env()})
    module = importlib.import_module("sidecar_fn.handler")
    entry: Handle = module.handler
    return Scenario(
        name="handler.handler mixed",
        pool=pool,
        handle=entry,
        keys=keys,
        batches_per_repeat=config.batches_per_repeat,
        batch_size=config.batch_size,
        note="the Lambda entry point (settings from the environment, cached sidecar)",
        admin=admin,
    )


# --- farms --------------------------------------------------------------------------------


@contextmanager
def farm(env: dict[str, str], *, chalice: bool = True) -> Iterator[str]:
    """A farm with `env` as its configuration: `chalice local` in a subprocess, or in this
    process (which reads its configuration from the environment once, at start)."""
    from local.farm_server import start_farm

    if chalice:
        server = start_farm(env=env)
    else:
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            server = start_farm(env=None)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    try:
        yield server.url
    finally:
        server.close()


# --- the whole run ------------------------------------------------------------------------


def _interleave(
    scenarios: Sequence[Scenario], repeats: int, log: Callable[[str], None], admin: redis.Redis
) -> None:
    for scenario in scenarios:
        scenario.admin = admin
        scenario.warm_up()
    for repeat in range(repeats):
        for scenario in scenarios:
            scenario.run_repeat()
        log(f"  repeat {repeat + 1}/{repeats} done")


def _count_row(row: Row, counted: CountPass | None) -> None:
    if counted is None:
        return
    row.sot_per_batch = counted.mean(counted.sot)
    row.drifted_ids_per_batch = counted.mean(counted.ids)
    row.extra["sot_within_limit"] = counted.sot_within_limit
    row.extra["sot_ms_per_batch"] = statistics.fmean(counted.sot_ms) if counted.sot_ms else 0.0
    row.extra["counting_pass"] = asdict(counted)


def run(config: BenchConfig, log: Callable[[str], None]) -> tuple[list[Row], dict[str, Any]]:
    """Run every enabled part of the benchmark and return its rows and metadata."""
    rows: list[Row] = []
    meta: dict[str, Any] = {
        "config": asdict(config),
        "started": time.time(),
        "machine": machine_facts(),
    }
    with ExitStack() as stack:
        redis_url = stack.enter_context(private_redis(os.environ.get("REDIS_URL")))
        admin = redis.Redis.from_url(redis_url)
        stack.callback(admin.close)
        log(f"private Redis at {redis_url}")
        main_farm = stack.enter_context(farm({"FARM_SOT_LATENCY_MS": "0"}, chalice=config.chalice))
        log(f"farm ({'chalice local' if config.chalice else 'in-process'}) at {main_farm}")
        fetcher = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=60.0)
        stack.callback(fetcher.close)
        mixed = RecordPool(fetcher, main_farm, StreamSpec(chaos=True, drift_rate=config.drift_rate))
        clean = RecordPool(fetcher, main_farm, StreamSpec(chaos=False))
        sidecar = sidecar_builder(redis_url)
        reference = reference_builder(redis_url)
        bs = config.batch_size

        log("counting passes (SoT requests through a counting proxy, Redis round trips)")
        with SoTCountingProxy(main_farm) as proxy:
            passes: dict[str, CountPass] = {}
            for kind, pool in (("mixed", mixed), ("clean", clean)):
                warm = pool.take(bs)
                texts = [pool.take(bs) for _ in range(config.count_batches)]
                passes[f"sidecar {kind}"] = count_pass(
                    f"sidecar {kind}", sidecar, proxy, admin, warm, texts
                )
                passes[f"per-record {kind}"] = count_pass(
                    f"per-record {kind}", reference, proxy, admin, warm, texts
                )
        meta["outcomes_agree"] = {
            kind: passes[f"sidecar {kind}"].counts == passes[f"per-record {kind}"].counts
            for kind in ("mixed", "clean")
        }
        meta["counting_passes"] = {name: asdict(p) for name, p in passes.items()}

        farm_label = "chalice local" if config.chalice else "in-process farm"
        log(f"throughput, {farm_label}: {config.repeats} repeats, interleaved")
        ref_mixed = make_scenario(
            "per-record mixed",
            reference,
            main_farm,
            mixed,
            config,
            batches_per_repeat=config.reference_batches,
            note="baseline: 1 GET per drifted record (fresh connection), SET NX + XADD per record",
        )
        ref_clean = make_scenario(
            "per-record clean",
            reference,
            main_farm,
            clean,
            config,
            batches_per_repeat=max(config.reference_batches, config.batches_per_repeat // 4),
        )
        batch_clean = make_scenario("handle_batch clean", sidecar, main_farm, clean, config)
        batch_mixed = make_scenario(
            "handle_batch mixed",
            sidecar,
            main_farm,
            mixed,
            config,
            note=f"{bs}-record SQS batches, drift_rate={config.drift_rate}, {farm_label}",
        )
        scenarios = [ref_mixed, ref_clean, batch_clean, batch_mixed]
        scenarios.append(handler_scenario(redis_url, main_farm, mixed, config, admin))
        _interleave(scenarios, config.repeats, log, admin)
        by_name: dict[str, Row] = {}
        for scenario in scenarios:
            by_name[scenario.name] = scenario.row(admin)
        for kind in ("mixed", "clean"):
            base = by_name[f"per-record {kind}"]
            _count_row(base, passes.get(f"per-record {kind}"))
            _count_row(by_name[f"handle_batch {kind}"], passes.get(f"sidecar {kind}"))
            for name in (f"handle_batch {kind}", "handler.handler mixed"):
                row = by_name[name]
                if kind in name and base.rate_median and row.rate_median is not None:
                    row.ratio = row.rate_median / base.rate_median
        rows += list(by_name.values())

        if config.in_process:
            log("throughput, in-process farm")
            with farm({"FARM_SOT_LATENCY_MS": "0"}, chalice=False) as local_farm:
                scenario = make_scenario(
                    "handle_batch mixed, in-process farm",
                    sidecar,
                    local_farm,
                    mixed,
                    config,
                    note="farm served from a thread of the benchmark process (shares its GIL)",
                )
                _interleave([scenario], config.repeats, log, admin)
                row = scenario.row(admin)
                if by_name["per-record mixed"].rate_median and row.rate_median is not None:
                    row.ratio = row.rate_median / by_name["per-record mixed"].rate_median
                rows.append(row)

        if config.latency:
            rows += _latency_rows(config, sidecar, redis_url, main_farm, mixed, admin, log)

        if config.cold_start:
            rows += _cold_start_rows(config, redis_url, main_farm, log)

        if config.runner:
            rows += _runner_rows(config, redis_url, admin, log)
    meta["finished"] = time.time()
    meta["load_average_end"] = os.getloadavg()
    return rows, meta


def machine_facts() -> dict[str, Any]:
    """What the numbers depend on: cores, load, interpreter, Redis parser."""
    from redis.utils import HIREDIS_AVAILABLE

    return {
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "python": sys.version.split()[0],
        "hiredis": HIREDIS_AVAILABLE,
    }


def _process_row(
    name: str,
    redis_url: str,
    farm_url: str,
    pool: RecordPool,
    config: BenchConfig,
    admin: redis.Redis,
    k: int,
    note: str = "",
) -> Row:
    """K invocations at once, each its own process and sidecar (an execution environment)."""
    bs = config.batch_size
    keys = BenchKeys.fresh("processes")
    shares: list[list[list[list[str]]]] = [[[] for _ in range(config.repeats)] for _ in range(k)]
    per_repeat = max(config.batches_per_repeat, 4 * k)
    for repeat in range(config.repeats):
        for index in range(per_repeat):
            shares[index % k][repeat].append(pool.take(bs))
    jobs = [WorkerJob(redis_url, farm_url, keys.env(), pool.take(bs), share) for share in shares]
    try:
        run = run_processes(jobs)
        main, dlq = keys.stream_lengths(admin)
    finally:
        keys.delete(admin)
    processed = k * bs + config.repeats * per_repeat * bs
    return Row(
        scenario=name,
        rate_median=run.samples.median,
        rate_low=run.samples.low,
        rate_high=run.samples.high,
        redis_rt_per_batch=run.round_trips_per_batch,
        note=note,
        extra={
            "rates": run.samples.rates,
            "concurrency": k,
            "processed": processed,
            "main_entries": main,
            "dlq_entries": dlq,
            "failures": run.failures,
            "reconciled": main + dlq + run.failures == processed,
            "counts": run.counts,
        },
    )


def _latency_rows(
    config: BenchConfig,
    sidecar: Builder,
    redis_url: str,
    main_farm: str,
    pool: RecordPool,
    admin: redis.Redis,
    log: Callable[[str], None],
) -> list[Row]:
    env = {"FARM_SOT_LATENCY_MS": str(config.latency_ms)}
    log(f"throughput with FARM_SOT_LATENCY_MS={config.latency_ms} (second chalice local)")
    k = config.concurrency
    slow = f"SoT +{config.latency_ms} ms"
    with farm(env, chalice=config.chalice) as slow_farm:
        single = make_scenario(f"mixed, {slow}, 1 invocation", sidecar, slow_farm, pool, config)
        _interleave([single], config.repeats, log, admin)
        rows = [single.row(admin)]
        for width in sorted({k, 2 * k}):
            log(f"  {width} invocations at once in {width} processes, without and with latency")
            fast = _process_row(
                f"mixed, {width} invocations at once",
                redis_url,
                main_farm,
                pool,
                config,
                admin,
                width,
                note=(
                    f"{width} processes, each its own sidecar and clients (an SQS event source"
                    " starts with five batches at a time, then scales up)"
                ),
            )
            delayed = _process_row(
                f"mixed, {slow}, {width} invocations at once",
                redis_url,
                slow_farm,
                pool,
                config,
                admin,
                width,
            )
            if fast.rate_median and delayed.rate_median:
                slowdown = fast.rate_median / delayed.rate_median
                delayed.note = f"slowdown vs no latency at the same concurrency: {slowdown:.2f}x"
                delayed.extra["slowdown"] = slowdown
            rows += [fast, delayed]
    return rows


def _cold_start_rows(
    config: BenchConfig, redis_url: str, farm_url: str, log: Callable[[str], None]
) -> list[Row]:
    runs = config.import_runs
    log(f"cold start: import sidecar_fn.handler in {runs} fresh interpreters (twice)")
    env = env_with({"REDIS_URL": redis_url, "FARM_URL": farm_url})
    here = import_seconds("sidecar_fn.handler", env, runs)
    with tempfile.TemporaryDirectory(prefix="aos-bench-lambda-") as tmp:
        task = lambda_layout(Path(tmp) / "task")
        lambda_env = {"PATH": env.get("PATH", ""), "REDIS_URL": redis_url, "FARM_URL": farm_url}
        packaged = import_seconds(
            "sidecar_fn.handler", lambda_env, runs, paths=[str(task)], isolated=True
        )
    rows = []
    for name, (imports, walls), how in (
        ("cold start: import sidecar_fn.handler", here, "this environment"),
        (
            "cold start, Lambda layout",
            packaged,
            "python -I -S, only sidecar_fn/ and its requirements on the path",
        ),
    ):
        ms = [value * 1000 for value in imports]
        rows.append(
            Row(
                scenario=name,
                import_ms=statistics.median(ms),
                note=(
                    f"{how}; median of {len(ms)} fresh interpreters, {min(ms):.0f}-{max(ms):.0f}"
                    f" ms; whole process {statistics.median(walls) * 1000:.0f} ms"
                ),
                extra={"import_ms": ms, "process_ms": [value * 1000 for value in walls]},
            )
        )
    return rows


def _runner_rows(
    config: BenchConfig, redis_url: str, admin: redis.Redis, log: Callable[[str], None]
) -> list[Row]:
    rows = []
    for count in config.runner_counts:
        log(f"end-to-end: local/run_sidecar.py --count {count} (in-process farm)")
        keys = BenchKeys.fresh("runner")
        args = ["--redis-url", redis_url, "--batch-size", str(config.batch_size)]
        try:
            result = run_runner(args, env_with(keys.env()), count)
        finally:
            keys.delete(admin)
        summary = result.summary
        rows.append(
            Row(
                scenario=f"runner --count {count:,} (end to end)",
                rate_median=float(summary.get("records_per_second", 0.0)),
                peak_rss_mib=result.peak_rss_kib / 1024,
                note=(
                    f"--batch-size {config.batch_size}; reconciled={summary.get('reconciled')};"
                    f" wall {result.wall_seconds:.1f} s"
                ),
                extra={"summary": summary, "wall_seconds": result.wall_seconds},
            )
        )
    if len(rows) == 2 and rows[0].peak_rss_mib:
        growth = (rows[1].peak_rss_mib or 0) / rows[0].peak_rss_mib
        rows[1].note += f"; peak RSS x{growth:.2f} for 10x the records"
        rows[1].extra["rss_growth"] = growth
    return rows


def parse_args(argv: Sequence[str] | None) -> tuple[BenchConfig, argparse.Namespace]:
    """The benchmark's command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (~30 s)")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny run proving the harness works (no timing value)"
    )
    parser.add_argument("--json-out", type=Path, help="also write the results as JSON")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--batches", type=int, help="batches per timed repeat")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--concurrency", type=int, help="concurrent invocations (latency part)")
    parser.add_argument("--in-process-farm", action="store_true", help="no chalice local")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--no-runner", action="store_true")
    parser.add_argument("--no-cold-start", action="store_true")
    args = parser.parse_args(argv)
    config = SMOKE if args.smoke else QUICK if args.quick else BenchConfig()
    overrides: dict[str, Any] = {
        "repeats": args.repeats,
        "batches_per_repeat": args.batches,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
    }
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    config = replace(
        config,
        chalice=config.chalice and not args.in_process_farm,
        in_process=config.in_process and not args.in_process_farm,
        latency=config.latency and not args.no_latency,
        runner=config.runner and not args.no_runner,
        cold_start=config.cold_start and not args.no_cold_start,
    )
    return config, args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write JSON."""
    config, args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    rows, meta = run(config, log)
    meta["elapsed_seconds"] = time.perf_counter() - started
    print(render_table(rows))
    agree = meta.get("outcomes_agree", {})
    passes = meta.get("counting_passes", {})
    print()
    for kind, same in agree.items():
        counts = passes.get(f"sidecar {kind}", {}).get("counts", {})
        verdict = "agree" if same else "DIFFER"
        print(f"outcomes, {kind} counting pass: {counts} ({verdict} with the per-record reference)")
    facts = meta["machine"]
    print(
        f"{facts['cpus']} CPUs, load average {facts['load_average_start'][0]:.2f} at start,"
        f" {meta['load_average_end'][0]:.2f} at end; Python {facts['python']};"
        f" hiredis {'on' if facts['hiredis'] else 'off'}; bench took"
        f" {meta['elapsed_seconds']:.0f} s"
    )
    if args.json_out:
        args.json_out.write_bytes(
            orjson.dumps(to_json(rows, meta), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        )
    return 0
