"""Trigger redelivery shapes: duplicates in one batch, Kinesis replay from the first failure."""

from __future__ import annotations

from typing import Any

import pytest

from .batches import mixed_items
from .delivery import deliver
from .evil_sot import EvilSourceOfTruth
from .ledger import ReadStreams, check_ledger

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ITEMS = mixed_items("redeliver", 50)


@pytest.mark.parametrize("kinesis", [False, True], ids=["sqs", "kinesis"])
def test_the_same_item_twice_in_one_batch_lands_once(
    kinesis: bool,
    read_streams: ReadStreams,
    evil_sidecar: Any,
) -> None:
    doubled = [item for item in ITEMS for _ in range(2)]
    result = deliver(evil_sidecar, doubled, kinesis=kinesis)
    assert result.failed == []
    ledger = read_streams()
    assert check_ledger(ledger, dict(ITEMS)) == []


def test_kinesis_replay_from_the_first_failure_adds_nothing_twice(
    evil_sot: EvilSourceOfTruth,
    read_streams: ReadStreams,
    evil_sidecar: Any,
) -> None:
    evil_sot.set("unavailable")
    first = deliver(evil_sidecar, ITEMS, kinesis=True, budget_ms=5_000)
    assert first.failed
    evil_sot.set("ok")
    order = [item_id for item_id, _ in ITEMS]
    pending = first.failed
    for _ in range(5):
        if not pending:
            break
        start = min(order.index(item_id) for item_id in pending)
        pending = deliver(evil_sidecar, ITEMS[start:], kinesis=True).failed
    assert pending == []
    ledger = read_streams()
    assert check_ledger(ledger, dict(ITEMS)) == []
    assert ledger.main_entries + ledger.dlq_entries == len(ITEMS)


def test_redelivered_items_count_under_their_first_outcome(evil_sidecar: Any) -> None:
    first = deliver(evil_sidecar, ITEMS)
    again = deliver(evil_sidecar, ITEMS)
    assert first.failed == again.failed == []
    assert again.counts == first.counts


@pytest.mark.parametrize("kinesis", [False, True], ids=["sqs", "kinesis"])
def test_a_ten_thousand_record_batch_lands_once(
    kinesis: bool,
    evil_sot: EvilSourceOfTruth,
    read_streams: ReadStreams,
    evil_sidecar: Any,
) -> None:
    items = mixed_items("big", 10_000)
    assert deliver(evil_sidecar, items, kinesis=kinesis).failed == []
    assert deliver(evil_sidecar, items, kinesis=kinesis).failed == []
    ledger = read_streams()
    assert check_ledger(ledger, dict(items)) == []
    assert len(evil_sot.unintended()) == 0
