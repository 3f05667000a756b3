"""Timed scenarios, counting passes and the farms they run against."""

from __future__ import annotations

import importlib
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from bench.config import BenchConfig
from bench.counting import (
    RoundTripCounter,
    SoTCountingProxy,
    commandstats,
    commandstats_delta,
    counting_redis,
)
from bench.events import LambdaContext, Pool, drifted_ids, sqs_event
from bench.measure import Handle, Samples, quiet_stdout, run_sequential
from bench.peer import PeerConfig, build_peer
from bench.per_record import ReferenceConfig, build_reference
from bench.report import Row
from bench.services import BenchKeys

SOT_CHUNK = 200
Builder = Callable[[str, BenchKeys], tuple[Handle, RoundTripCounter]]


def sidecar_builder(redis_url: str, env: dict[str, str] | None = None) -> Builder:
    """Build `IngestSidecar.handle_batch` through the composition root, with counted Redis
    (`env`: more sidecar settings, e.g. AOS_SOT_CACHE_TTL_SECONDS)."""

    def build(farm_url: str, keys: BenchKeys) -> tuple[Handle, RoundTripCounter]:
        from sidecar_fn.settings import Settings
        from sidecar_fn.wiring import build_sidecar

        settings = Settings.from_env(
            {"REDIS_URL": redis_url, "FARM_URL": farm_url, **keys.env(), **(env or {})}
        )
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


def peer_builder(redis_url: str, *, keepalive: bool = True) -> Builder:
    """Build the Powertools peer with counted Redis."""

    def build(farm_url: str, keys: BenchKeys) -> tuple[Handle, RoundTripCounter]:
        client, counter = counting_redis(redis_url)
        config = PeerConfig(
            source_id=keys.source_id,
            stream=keys.stream,
            dlq_stream=keys.dlq_stream,
            farm_url=farm_url,
            keepalive=keepalive,
        )
        return build_peer(config, redis_client=client).handle_batch, counter

    return build


def cache_hit_rate(scenario: Scenario) -> float | None:
    """The lookup cache's hit rate of a sidecar scenario built with the cache on."""
    sidecar = getattr(scenario.handle, "__self__", None)
    stats = getattr(getattr(sidecar, "source", None), "stats", None)
    rate = getattr(stats, "hit_rate", None)
    return rate if isinstance(rate, float) else None


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
    pool: Pool
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
    pool: Pool,
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
    redis_url: str, farm_url: str, pool: Pool, config: BenchConfig, admin: redis.Redis
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
