"""The trigger's side of the contract: deliver a batch, redeliver what failed back."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .batches import Item, LambdaContext, kinesis_event, sqs_event


@dataclass
class Delivery:
    """What one invocation returned."""

    report: Any
    failed: list[str]

    @property
    def counts(self) -> dict[str, int]:
        """The report's outcome counts."""
        return dict(self.report.counts)


def deliver(
    sidecar: Any, items: Sequence[Item], *, kinesis: bool = False, budget_ms: int = 30_000
) -> Delivery:
    """Invoke the batch path once, as Lambda would, and return the failed-back item ids."""
    event = kinesis_event(items) if kinesis else sqs_event(items)
    report = sidecar.handle_batch(event, LambdaContext(budget_ms=budget_ms))
    response = report.lambda_response()
    failed = [entry["itemIdentifier"] for entry in response["batchItemFailures"]]
    known = {item_id for item_id, _ in items}
    assert set(failed) <= known, f"failures name items never delivered: {set(failed) - known}"
    assert len(failed) == len(set(failed)), "an item is failed back twice"
    return Delivery(report=report, failed=failed)


def redeliver_failed(
    sidecar: Any,
    items: Sequence[Item],
    failed: Sequence[str],
    *,
    rounds: int = 5,
    pause_s: float = 0.25,
    kinesis: bool = False,
    budget_ms: int = 30_000,
) -> list[str]:
    """Redeliver the failed items (as SQS does, after a pause) until none fail or rounds run out."""
    by_id = dict(items)
    pending = list(failed)
    for _ in range(rounds):
        if not pending:
            break
        time.sleep(pause_s)
        retry = [(item_id, by_id[item_id]) for item_id in pending]
        pending = deliver(sidecar, retry, kinesis=kinesis, budget_ms=budget_ms).failed
    return pending
