"""Atheris fuzz target: arbitrary bytes, cut into a Kinesis batch, through handle_batch.

Run: `python -m reliability.atheris_handler -runs=5000 CORPUS_DIR` from `tests/`. Any
exception escaping the batch path, a failed-back item while every dependency is healthy,
an item not in exactly one place, a bad main-stream entry or a request for an ill-formed
id ends the run as a crash.
"""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports(include=["sidecar_fn"]):
    from sidecar_fn.settings import Settings
    from sidecar_fn.wiring import build_sidecar

import fakeredis

from .batches import LambdaContext
from .evil_sot import VALID_ID, pristine_invoice
from .ledger import check_ledger, read_ledger

STREAM, DLQ = "fuzz:invoices", "fuzz:invoices:dlq"


class RecordingSource:
    """An in-process source of truth that remembers every id it is asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, Mapping[str, Any] | None]:
        """Pristine records by id (None when unknown)."""
        self.asked.extend(ids)
        return {invoice_id: pristine_invoice(invoice_id) for invoice_id in ids}


CLIENT = fakeredis.FakeRedis(server=fakeredis.FakeServer())
SOURCE = RecordingSource()
SIDECAR = build_sidecar(
    Settings.from_env({"AOS_STREAM": STREAM, "AOS_DLQ_STREAM": DLQ, "AOS_SOURCE_ID": "fuzz"}),
    redis_client=CLIENT,
    source=SOURCE,
)
IDS = itertools.count()


def test_one_input(data: bytes) -> None:
    """One batch of 1..6 records carved from `data`."""
    provider = atheris.FuzzedDataProvider(data)
    raws = [
        provider.ConsumeBytes(provider.ConsumeIntInRange(0, 600))
        for _ in range(provider.ConsumeIntInRange(1, 6))
    ]
    items = {f"{next(IDS):020d}": raw for raw in raws}
    event = {
        "Records": [
            {"kinesis": {"sequenceNumber": item_id, "data": base64.b64encode(raw).decode()}}
            for item_id, raw in items.items()
        ]
    }
    CLIENT.delete(STREAM, DLQ)
    SOURCE.asked.clear()
    with contextlib.redirect_stdout(io.StringIO()):
        report = SIDECAR.handle_batch(event, LambdaContext())
    failures = report.lambda_response()["batchItemFailures"]
    if failures:
        raise AssertionError(f"items failed back with healthy dependencies: {failures}")
    ledger = read_ledger(CLIENT, STREAM, DLQ)
    problems = check_ledger(ledger, items, exact_outcomes=False)
    if set(ledger.dlq_reasons()) - {"malformed", "unrepairable"}:
        problems.append(f"unexpected dead-letter reasons {ledger.dlq_reasons()}")
    problems += [f"asked for {i!r}" for i in SOURCE.asked if not VALID_ID.fullmatch(i)]
    if problems:
        raise AssertionError("; ".join(problems))


def main() -> None:
    """libFuzzer entry point."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
