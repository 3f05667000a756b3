"""`python -m bench.drift_repair`: the batch path's own CPU cost and what local repair saves.

No Redis, no HTTP: the sink accepts every entry and the source of truth is the farm's
catalogue in-process, so the figures are the sidecar's Python alone. It prints

- the clean path: microseconds per record of `handle_batch` over pristine records
  (median and spread of the repeats), comparable across revisions of the sidecar;
- drift by kind on the farm's chaos stream and, when the sidecar repairs locally, the
  share of drifted records repaired without a source-of-truth lookup and the lookups
  and batch requests saved per 10,000 records (every drifted record with a usable id
  would otherwise be looked up).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

FARM_DIR = Path(__file__).resolve().parent.parent / "farm_api"
if str(FARM_DIR) not in sys.path:
    sys.path.insert(0, str(FARM_DIR))

from aws_lambda_powertools import Logger  # noqa: E402
from chalicelib.catalogue import Catalogue  # noqa: E402
from chalicelib.chaos import ChaosRates, record_at  # noqa: E402
from chalicelib.config import FarmConfig  # noqa: E402

from bench.events import sqs_event  # noqa: E402
from bench.sinks import AcceptingSink  # noqa: E402
from sidecar_fn.schema import BUILTIN_SCHEMA  # noqa: E402
from sidecar_fn.sidecar import IngestSidecar  # noqa: E402
from sidecar_fn.telemetry import NullMetrics  # noqa: E402

BATCH = 500
CHUNK = 200


class CountingCatalogue:
    """SourceOfTruth over the farm's catalogue, counting records and chunked requests."""

    def __init__(self, size: int) -> None:
        self.catalogue = Catalogue(size)
        self.records = 0
        self.requests = 0

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, Mapping[str, Any] | None]:
        self.records += len(ids)
        self.requests += -(-len(ids) // CHUNK)
        return {invoice_id: self.catalogue.lookup(invoice_id) for invoice_id in ids}


def build(source: CountingCatalogue, verify_share: float | None) -> IngestSidecar:
    """A sidecar on the fakes above; `verify_share` only where the sidecar knows it."""
    logger = Logger(service="bench-drift", level="ERROR")
    extra: dict[str, Any] = {} if verify_share is None else {"verify_share": verify_share}
    return IngestSidecar(
        source_id="bench",
        schema=BUILTIN_SCHEMA,
        source=source,
        sink=AcceptingSink(),
        logger=logger,
        metrics=NullMetrics(),
        **extra,
    )


def stream(chaos: bool, count: int, seed: int = 0) -> list[str]:
    """The farm's records 0..count-1 at the default rates."""
    config = FarmConfig()
    rates = ChaosRates(
        config.drift_rate, config.malformed_rate, config.unrepairable_share, config.kind_shares
    )
    return [record_at(seed, chaos, n, rates, config.catalogue_size).data for n in range(count)]


def clean_path(repeats: int, batches: int) -> list[float]:
    """Microseconds per record of handle_batch over pristine records, one figure a repeat."""
    texts = stream(False, BATCH)
    sidecar = build(CountingCatalogue(FarmConfig().catalogue_size), None)
    events = [sqs_event(texts, id_prefix=f"c{n}") for n in range(batches)]
    sidecar.handle_batch(events[0])
    figures = []
    for _ in range(repeats):
        start = time.perf_counter()
        for event in events:
            sidecar.handle_batch(event)
        figures.append((time.perf_counter() - start) / (batches * BATCH) * 1e6)
    return figures


def drift_figures(records: int, verify_share: float, batch: int = BATCH) -> dict[str, Any]:
    """Drift per kind and the source-of-truth lookups local repair saves on `records`."""
    source = CountingCatalogue(FarmConfig().catalogue_size)
    sidecar = build(source, verify_share)
    texts = stream(True, records)
    kinds: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    drifted = local = lookups = disagreements = 0
    baseline_requests = 0
    for start in range(0, records, batch):
        event = sqs_event(texts[start : start + batch], id_prefix=f"d{start}")
        report = sidecar.handle_batch(event)
        counts.update(report.counts)
        drifted += report.drifted
        tally = getattr(report, "drift", None)
        if tally is None:
            continue
        kinds.update(tally.kinds)
        local += tally.repaired_locally
        lookups += tally.source_lookups
        disagreements += tally.verify_disagreements
        baseline_requests += -(-(tally.source_lookups + tally.repaired_locally) // CHUNK)
    baseline_lookups = lookups + local
    per = 10_000 / records
    return {
        "records": records,
        "batch_size": batch,
        "verify_share": verify_share,
        "outcomes": dict(counts),
        "drifted": drifted,
        "drift_by_kind": dict(kinds),
        "repaired_locally": local,
        "share_of_drifted_repaired_locally": local / drifted if drifted else 0.0,
        "source_lookups": lookups,
        "lookups_saved_per_10k": (baseline_lookups - lookups) * per,
        "requests": source.requests,
        "requests_saved_per_10k": (baseline_requests - source.requests) * per,
        "verify_disagreements": disagreements,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the clean-path cost and the drift figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.drift_repair", description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--verify-share", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, action="append", dest="batch_sizes")
    parser.add_argument("--clean-only", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.ERROR)
    figures = clean_path(args.repeats, args.batches)
    print(
        f"clean path: {statistics.median(figures):.2f} us/record median over {args.repeats} "
        f"repeats of {args.batches} x {BATCH} records "
        f"(min {min(figures):.2f}, max {max(figures):.2f})"
    )
    if args.clean_only:
        return 0
    for batch in args.batch_sizes or [10, BATCH]:
        result = drift_figures(args.records, args.verify_share, batch)
        print()
        for name, value in result.items():
            shown = f"{value:.3f}" if isinstance(value, float) else value
            print(f"{name}: {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
