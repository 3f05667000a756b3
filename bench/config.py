"""Sizes of the benchmark's parts: the default run, --quick and --smoke."""

from __future__ import annotations

from dataclasses import dataclass


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
    redis_port: int = 0
    repeat_shares: tuple[float, ...] = (0.5, 1.0)
    split_batches: int = 30
    cache_ttl_s: int = 60


QUICK = BenchConfig(
    repeats=3,
    batches_per_repeat=6,
    reference_batches=1,
    count_batches=2,
    split_batches=10,
    import_runs=5,
    runner_counts=(2_000, 20_000),
)

SMOKE = BenchConfig(
    batch_size=50,
    repeats=1,
    batches_per_repeat=2,
    reference_batches=1,
    count_batches=2,
    split_batches=2,
    concurrency=2,
    import_runs=1,
    runner_counts=(100, 1_000),
    chalice=False,
)
