"""The benchmark: scenarios side by side, counting passes, cold start, runner memory."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis

from bench.artifact import check_loaded, loaded_from, refusal
from bench.coldstart import import_seconds, lambda_layout
from bench.config import QUICK, SMOKE, BenchConfig
from bench.counting import SoTCountingProxy
from bench.events import RecordPool, RepeatingPool, StreamSpec
from bench.measure import run_runner
from bench.processes import WorkerJob, run_processes
from bench.report import Row, render_table, to_json
from bench.salesforce import QueryTimer, annotate, salesforce_builder
from bench.scenarios import (
    Builder,
    CountPass,
    Scenario,
    cache_hit_rate,
    count_pass,
    farm,
    handler_scenario,
    make_scenario,
    peer_builder,
    reference_builder,
    sidecar_builder,
)
from bench.services import BenchKeys, env_with, private_redis
from bench.split import measure_split, render_split


def _interleave(
    scenarios: Sequence[Scenario],
    repeats: int,
    log: Callable[[str], None],
    admin: redis.Redis,
    after_warm_up: Callable[[], object] | None = None,
) -> None:
    for scenario in scenarios:
        scenario.admin = admin
        scenario.warm_up()
    if after_warm_up is not None:
        after_warm_up()
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


def run(
    config: BenchConfig, log: Callable[[str], None], package: Path | None = None
) -> tuple[list[Row], dict[str, Any]]:
    """Run every enabled part of the benchmark and return its rows and metadata; `package`
    is the Lambda package sidecar_fn was imported from (--package), for the metadata."""
    rows: list[Row] = []
    meta: dict[str, Any] = {
        "config": asdict(config),
        "started": time.time(),
        "machine": machine_facts(package),
    }
    with ExitStack() as stack:
        redis_url = stack.enter_context(
            private_redis(os.environ.get("REDIS_URL"), config.redis_port)
        )
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
        peer = peer_builder(redis_url, keepalive=not config.chalice)
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
                passes[f"peer {kind}"] = count_pass(f"peer {kind}", peer, proxy, admin, warm, texts)
        meta["outcomes_agree"] = {
            f"{kind}, {other}": passes[f"sidecar {kind}"].counts == passes[f"{other} {kind}"].counts
            for kind in ("mixed", "clean")
            for other in ("per-record", "peer")
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
        peer_note = (
            "Powertools BatchProcessor + idempotency on Redis per record, 1 GET per drifted"
            " record, XADD per record"
        )
        if config.chalice:
            peer_note += " (fresh connections: keep-alive to chalice local costs ~40 ms a GET)"
        peer_mixed = make_scenario(
            "peer mixed",
            peer,
            main_farm,
            mixed,
            config,
            batches_per_repeat=config.reference_batches,
            note=peer_note,
        )
        peer_clean = make_scenario(
            "peer clean",
            peer,
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
        timers: list[QueryTimer] = []
        batch_salesforce = make_scenario(
            "handle_batch mixed, Salesforce adapter",
            salesforce_builder(redis_url, timers),
            main_farm,
            mixed,
            config,
        )
        scenarios = [ref_mixed, ref_clean, peer_mixed, peer_clean, batch_clean, batch_mixed]
        scenarios.append(batch_salesforce)
        scenarios.append(handler_scenario(redis_url, main_farm, mixed, config, admin))
        cache_env = {"AOS_SOT_CACHE_TTL_SECONDS": str(config.cache_ttl_s)}
        cached: list[Scenario] = []
        for share in config.repeat_shares:
            label = f"handle_batch mixed, {share:.0%} ids repeat"
            scenarios.append(
                make_scenario(
                    f"{label}, no cache",
                    sidecar,
                    main_farm,
                    RepeatingPool(mixed, share),
                    config,
                    note=f"{share:.0%} of records re-send one of the last 5,000 (same invoice id)",
                )
            )
            cached.append(
                make_scenario(
                    f"{label}, cache",
                    sidecar_builder(redis_url, cache_env),
                    main_farm,
                    RepeatingPool(mixed, share),
                    config,
                )
            )
            scenarios.append(cached[-1])
        _interleave(scenarios, config.repeats, log, admin, after_warm_up=timers[0].reset)
        hit_rates = {scenario.name: cache_hit_rate(scenario) for scenario in cached}
        for scenario in cached:
            rate = hit_rates[scenario.name]
            scenario.note = f"AOS_SOT_CACHE_TTL_SECONDS={config.cache_ttl_s}; " + (
                f"lookup cache hit rate {rate:.1%}" if rate is not None else "cache not found"
            )
        by_name: dict[str, Row] = {}
        for scenario in scenarios:
            by_name[scenario.name] = scenario.row(admin)
        for name, rate in hit_rates.items():
            by_name[name].extra["cache_hit_rate"] = rate
        annotate(by_name[batch_salesforce.name], timers[0], batch_salesforce.timed_batches)
        for kind in ("mixed", "clean"):
            base = by_name[f"per-record {kind}"]
            rival = by_name[f"peer {kind}"]
            _count_row(base, passes.get(f"per-record {kind}"))
            _count_row(rival, passes.get(f"peer {kind}"))
            _count_row(by_name[f"handle_batch {kind}"], passes.get(f"sidecar {kind}"))
            names = [f"peer {kind}", f"handle_batch {kind}", "handler.handler mixed"]
            names += [name for name in by_name if name.startswith(f"handle_batch {kind},")]
            for name in names:
                row = by_name[name]
                if kind not in name or row.rate_median is None:
                    continue
                if base.rate_median:
                    row.ratio = row.rate_median / base.rate_median
                if rival.rate_median and row is not rival:
                    row.ratio_peer = row.rate_median / rival.rate_median
        rows += list(by_name.values())

        log(f"split of a batch's time: {config.split_batches} batches, each run twice")
        split = measure_split(
            _split_sidecar(redis_url, main_farm), mixed, admin, bs, config.split_batches
        )
        meta["split"] = {"farm": farm_label, "batches": config.split_batches, **split.medians()}

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
                if by_name["peer mixed"].rate_median and row.rate_median is not None:
                    row.ratio_peer = row.rate_median / by_name["peer mixed"].rate_median
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


def _split_sidecar(redis_url: str, farm_url: str) -> Callable[[BenchKeys, Any], Any]:
    def build(keys: BenchKeys, source: Any) -> Any:
        from sidecar_fn.settings import Settings
        from sidecar_fn.wiring import build_sidecar

        settings = Settings.from_env({"REDIS_URL": redis_url, "FARM_URL": farm_url, **keys.env()})
        return build_sidecar(settings, redis_client=redis.Redis.from_url(redis_url), source=source)

    return build


def machine_facts(package: Path | None = None) -> dict[str, Any]:
    """What the numbers depend on: cores, load, interpreter, Redis parser, and where
    sidecar_fn was loaded from (the Lambda package `package`, or the dev tree)."""
    from redis.utils import HIREDIS_AVAILABLE

    import sidecar_fn

    return {
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "python": sys.version.split()[0],
        "hiredis": HIREDIS_AVAILABLE,
        "sidecar_fn": loaded_from(sidecar_fn, package),
        "package": str(package) if package is not None else None,
    }


def footer(meta: dict[str, Any]) -> str:
    """The line under the tables: machine, load, interpreter, parser, code measured, time."""
    facts = meta["machine"]
    return (
        f"{facts['cpus']} CPUs, load average {facts['load_average_start'][0]:.2f} at start,"
        f" {meta['load_average_end'][0]:.2f} at end; Python {facts['python']};"
        f" hiredis {'on' if facts['hiredis'] else 'off'}; {facts['sidecar_fn']}; bench took"
        f" {meta['elapsed_seconds']:.0f} s"
    )


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
        pairs: list[tuple[Row, Row]] = []
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
            pairs.append((fast, delayed))
    best = max(fast.rate_median or 0.0 for fast, _ in pairs)
    for fast, delayed in pairs:
        rows += [fast, delayed]
        if not (delayed.rate_median and best):
            continue
        same = (fast.rate_median or 0.0) / delayed.rate_median
        delayed.extra["slowdown"] = best / delayed.rate_median
        delayed.extra["slowdown_same_concurrency"] = same
        delayed.note = (
            f"slowdown vs the best no-latency row: {best / delayed.rate_median:.2f}x"
            f" (vs the same concurrency: {same:.2f}x)"
        )
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
    parser.add_argument("--quick", action="store_true", help="short run (under a minute)")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny run proving the harness works (no timing value)"
    )
    parser.add_argument("--json-out", type=Path, help="also write the results as JSON")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--batches", type=int, help="batches per timed repeat")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--concurrency", type=int, help="concurrent invocations (latency part)")
    parser.add_argument("--redis-port", type=int, help="port of the private redis-server")
    parser.add_argument("--in-process-farm", action="store_true", help="no chalice local")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--no-runner", action="store_true")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument(
        "--package",
        type=Path,
        metavar="DIR",
        help=(
            "import sidecar_fn and its locked dependencies from the built Lambda package DIR"
            " (`make package`: build/lambda); needs CPython 3.12 (`make bench-package`);"
            " leaves out the runner and cold-start rows"
        ),
    )
    args = parser.parse_args(argv)
    config = SMOKE if args.smoke else QUICK if args.quick else BenchConfig()
    overrides: dict[str, Any] = {
        "repeats": args.repeats,
        "batches_per_repeat": args.batches,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "redis_port": args.redis_port,
    }
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    config = replace(
        config,
        chalice=config.chalice and not args.in_process_farm,
        in_process=config.in_process and not args.in_process_farm,
        latency=config.latency and not args.no_latency,
        runner=config.runner and not args.no_runner and args.package is None,
        cold_start=config.cold_start and not args.no_cold_start and args.package is None,
    )
    return config, args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write JSON."""
    config, args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.package is not None:
        problems = check_loaded(args.package)
        if problems:
            print(refusal(args.package, problems), file=sys.stderr)
            return 2
        if not (args.no_runner and args.no_cold_start):
            log(
                "--package: no runner or cold-start rows (their interpreters load the dev tree;"
                f" the package's cold start: python -m bench.package_coldstart --package"
                f" {args.package})"
            )

    started = time.perf_counter()
    rows, meta = run(config, log, args.package)
    meta["elapsed_seconds"] = time.perf_counter() - started
    print(render_table(rows))
    if "split" in meta:
        split = meta["split"]
        print()
        print(render_split(split, config.batch_size, split["batches"], split["farm"]))
    agree = meta.get("outcomes_agree", {})
    passes = meta.get("counting_passes", {})
    print()
    for label, same in agree.items():
        kind, other = label.split(", ")
        counts = passes.get(f"sidecar {kind}", {}).get("counts", {})
        verdict = "agree" if same else "DIFFER"
        print(f"outcomes, {kind} counting pass: {counts} ({verdict} with the {other} row)")
    print(footer(meta))
    if args.json_out:
        args.json_out.write_bytes(
            orjson.dumps(to_json(rows, meta), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        )
    return 0
