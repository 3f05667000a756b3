"""Concurrent invocations as separate processes, the way Lambda runs execution environments."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.events import LambdaContext, sqs_event
from bench.measure import Samples


@dataclass(frozen=True)
class WorkerJob:
    """What one worker process needs: where to write and its share of every repeat."""

    redis_url: str
    farm_url: str
    env: dict[str, str]
    warm_texts: list[str]
    repeats: list[list[list[str]]]
    """Per repeat, this worker's batches (each a list of record texts)."""


@dataclass
class WorkerResult:
    """Per repeat: when the worker started and finished its share, and what it did."""

    spans: list[tuple[float, float]] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    round_trips: int = 0
    batches: int = 0
    failures: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _work(job: WorkerJob, barrier: Any, results: Any) -> None:
    """Worker process body: build a sidecar, warm it, then run each repeat after the barrier."""
    _silence_stdout()
    from bench.counting import counting_redis
    from sidecar_fn.settings import Settings
    from sidecar_fn.wiring import build_sidecar

    settings = Settings.from_env({"REDIS_URL": job.redis_url, "FARM_URL": job.farm_url, **job.env})
    client, counter = counting_redis(job.redis_url)
    sidecar = build_sidecar(settings, redis_client=client)
    context = LambdaContext()
    sidecar.handle_batch(sqs_event(job.warm_texts), context)
    result = WorkerResult()
    counts: Counter[str] = Counter()
    for batches in job.repeats:
        events = [sqs_event(texts) for texts in batches]
        trips = counter.round_trips
        barrier.wait()
        start = time.perf_counter()
        for event in events:
            report = sidecar.handle_batch(event, context)
            counts.update(report.counts)
            result.failures += len(report.failures)
        result.spans.append((start, time.perf_counter()))
        result.records.append(sum(len(event["Records"]) for event in events))
        result.round_trips += counter.round_trips - trips
        result.batches += len(events)
    result.counts = {name: number for name, number in counts.items() if number}
    results.put(result)


@dataclass
class ProcessRun:
    """Throughput of concurrent worker processes, per repeat, and their pooled counts."""

    samples: Samples
    round_trips_per_batch: float
    failures: int
    counts: dict[str, int]


def run_processes(jobs: list[WorkerJob], timeout: float = 600.0) -> ProcessRun:
    """Start one process per job; per repeat, records of all workers over the span from the
    first start to the last finish (the barrier starts them together)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(jobs))
    queue = context.Queue()
    workers = [context.Process(target=_work, args=(job, barrier, queue)) for job in jobs]
    for worker in workers:
        worker.start()
    try:
        outcomes: list[WorkerResult] = [queue.get(timeout=timeout) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    samples = Samples()
    for repeat in range(len(jobs[0].repeats)):
        start = min(outcome.spans[repeat][0] for outcome in outcomes)
        end = max(outcome.spans[repeat][1] for outcome in outcomes)
        samples.rates.append(sum(o.records[repeat] for o in outcomes) / (end - start))
    counts: Counter[str] = Counter()
    for outcome in outcomes:
        counts.update(outcome.counts)
    batches = sum(outcome.batches for outcome in outcomes)
    return ProcessRun(
        samples=samples,
        round_trips_per_batch=sum(o.round_trips for o in outcomes) / max(batches, 1),
        failures=sum(outcome.failures for outcome in outcomes),
        counts=dict(counts),
    )
