"""`python -m bench.batch_cost`: the sidecar's time per batch, for docs/sizing.md.

Runs `handle_batch` on SQS events of --batch records (a --drift share of them missing a
field, repaired from an in-process source of truth answering after --sot-ms) against a
private redis-server, and prints the median and spread of milliseconds per batch.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from bench.marker_memory import invoice, private_server
from local.events import sqs_record
from sidecar_fn.settings import Settings
from sidecar_fn.telemetry import build_logger
from sidecar_fn.wiring import build_sidecar


class SlowSource:
    """A source of truth that knows every invoice and answers after `latency_s`."""

    def __init__(self, latency_s: float) -> None:
        self._latency_s = latency_s

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, Mapping[str, Any] | None]:
        time.sleep(self._latency_s)
        return {i: invoice(int(i.removeprefix("INV-"))) for i in ids}


class NoMetrics:
    def publish(self, counts: Mapping[str, int]) -> None:
        """Discard."""

    def publish_by_field(self, metric: str, counts: Mapping[str, int]) -> None:
        """Discard."""


def event(start: int, size: int, drift: float) -> dict[str, Any]:
    records = []
    for n in range(start, start + size):
        record = invoice(n)
        if (n % 100) < drift * 100:
            del record["total_amount"]
        records.append(sqs_record(str(uuid.UUID(int=n, version=4)), orjson.dumps(record).decode()))
    return {"Records": records}


def main(argv: Sequence[str] | None = None) -> int:
    """Print ms per batch (median, min-max) over --batches batches."""
    parser = argparse.ArgumentParser(prog="python -m bench.batch_cost")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--drift", type=float, default=0.15)
    parser.add_argument("--sot-ms", type=float, default=50.0)
    parser.add_argument("--port", type=int, default=7451)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with private_server(args.port) as client:
        settings = Settings(redis_url=f"redis://127.0.0.1:{args.port}/0")
        sidecar = build_sidecar(
            settings,
            redis_client=client,
            source=SlowSource(args.sot_ms / 1000),
            metrics=NoMetrics(),
            logger=build_logger("bench", stream=io.StringIO()),
        )
        means = []
        for run in range(args.runs):
            client.flushall()
            times = []
            for b in range(args.batches):
                batch = event((run * args.batches + b) * args.batch, args.batch, args.drift)
                started = time.perf_counter()
                report = sidecar.handle_batch(batch)
                times.append((time.perf_counter() - started) * 1000)
                assert not report.failures
            means.append(statistics.fmean(times))
    print(
        f"batch {args.batch}, drift {args.drift:.0%}, source of truth {args.sot_ms:.0f} ms:"
        f" mean ms per batch, median of {args.runs} runs {statistics.median(means):.2f}"
        f" (min {min(means):.2f}, max {max(means):.2f}); {args.batches} batches per run"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
