"""`python -m bench.handler_cpu`: the handler thread's CPU per 500-record mixed batch.

No Redis, no HTTP: the farm's chaos stream (15% drift at the default rates), the
catalogue in-process as the source of truth, and a sink that packs each script call as
the Redis sink does (`RedisStreamSink._pack`) without sending it. The figure is the
handler thread's own CPU time (`time.thread_time`), so waiting for workers or other
processes on a shared machine does not count; compare revisions by running this
alternately on each and reading the median and the minimum.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Sequence

import redis

from bench.drift_repair import BATCH, CountingCatalogue, build, stream
from bench.events import sqs_event
from bench.sinks import AcceptingSink
from sidecar_fn.drift_stats import BatchStats
from sidecar_fn.ports import PushResult, Retirement, SinkEntry
from sidecar_fn.redis_sink import RedisStreamSink

# The farm's package is on sys.path once bench.drift_repair is imported.
from chalicelib.config import FarmConfig  # isort: skip


class PackingSink(AcceptingSink):
    """StreamSink that serialises each call as the Redis sink would, then accepts it all."""

    def __init__(self) -> None:
        # No connection is opened: the client is only needed to build the sink.
        self.inner = RedisStreamSink(
            redis.Redis(), stream="bench:main", dlq_stream="bench:dlq", seen_ttl_s=3600
        )

    def push(
        self,
        entries: Sequence[SinkEntry],
        *,
        source_id: str,
        received_at: str,
        stats: BatchStats | None = None,
        retire: Sequence[Retirement | None] | None = None,
    ) -> list[PushResult]:
        """Pack the call, then report every entry written."""
        self.inner._pack(entries, source_id, received_at, stats, retire)
        return super().push(entries, source_id=source_id, received_at=received_at)


def measure(repeats: int, distinct: int = 4) -> list[float]:
    """Milliseconds of handler-thread CPU for each of `repeats` batches (cycling over
    `distinct` different batches of the chaos stream, each run once before timing)."""
    texts = stream(True, BATCH * distinct)
    sidecar = build(CountingCatalogue(FarmConfig().catalogue_size), None)
    sidecar.sink = PackingSink()
    events = [
        sqs_event(texts[n * BATCH : (n + 1) * BATCH], id_prefix=f"cpu{n}") for n in range(distinct)
    ]
    for event in events:
        sidecar.handle_batch(event)
    figures = []
    for n in range(repeats):
        start = time.thread_time()
        sidecar.handle_batch(events[n % distinct])
        figures.append((time.thread_time() - start) * 1000)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Print the median, minimum and 10th-90th percentiles of the batches' CPU."""
    parser = argparse.ArgumentParser(prog="python -m bench.handler_cpu", description=__doc__)
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.ERROR)
    figures = measure(max(args.repeats, 10))
    deciles = statistics.quantiles(figures, n=10)
    print(
        f"handler thread CPU per {BATCH}-record mixed batch: median "
        f"{statistics.median(figures):.2f} ms, min {min(figures):.2f} ms, "
        f"p10-p90 {deciles[0]:.2f}-{deciles[-1]:.2f} ms over {len(figures)} batches"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
