"""The same batch delivered twice at once from two processes: one entry per item, equal reports."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from .batches import kinesis_event, mixed_items, sqs_event
from .farm_truth import FarmTruth
from .ledger import ReadStreams, check_ledger
from .workers import deliver_after_barrier

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ROUNDS = 4
BATCH = 300


@pytest.mark.parametrize("kinesis", [False, True], ids=["sqs", "kinesis"])
def test_two_processes_same_batch_exactly_once(
    kinesis: bool,
    farm_factory: Any,
    keyspace: Any,
    redis_url: str,
    read_streams: ReadStreams,
) -> None:
    farm = farm_factory(None)
    truth = FarmTruth(farm.url)
    env = {**keyspace.env(), "REDIS_URL": redis_url, "FARM_URL": farm.url}
    context = multiprocessing.get_context("spawn")
    all_items: dict[str, bytes] = {}
    try:
        truth.prefetch([f"INV-{n}" for n in range(1, ROUNDS * BATCH + 2)] + ["INV-999999999999"])
        with context.Manager() as manager, ProcessPoolExecutor(2, mp_context=context) as pool:
            for round_ in range(ROUNDS):
                items = mixed_items(f"conc{round_}", BATCH, start=1 + round_ * BATCH, truth=truth)
                all_items.update(items)
                event = kinesis_event(items) if kinesis else sqs_event(items)
                barrier = manager.Barrier(2)
                futures = [
                    pool.submit(deliver_after_barrier, env, event, barrier) for _ in range(2)
                ]
                first, second = (future.result(timeout=120) for future in futures)
                assert first["failed"] == [] and second["failed"] == []
                assert first["counts"] == second["counts"], "a duplicate counted differently"
                assert sum(first["counts"].values()) == BATCH
        ledger = read_streams()
        assert ledger.duplicates() == {}
        assert check_ledger(ledger, all_items, sot=truth) == []
        assert ledger.main_entries + ledger.dlq_entries == ROUNDS * BATCH
    finally:
        truth.close()


def test_overlapping_batches_from_two_processes(
    evil_sot: Any, keyspace: Any, redis_url: str, read_streams: ReadStreams
) -> None:
    env = {**keyspace.env(), "REDIS_URL": redis_url, "FARM_URL": evil_sot.url}
    items = mixed_items("overlap", 400)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(2, mp_context=context) as pool:
        barrier = manager.Barrier(2)
        halves = [items[:260], items[140:]]
        futures = [
            pool.submit(deliver_after_barrier, env, sqs_event(half), barrier) for half in halves
        ]
        results = [future.result(timeout=120) for future in futures]
    assert all(result["failed"] == [] for result in results)
    ledger = read_streams()
    assert check_ledger(ledger, dict(items)) == []
    assert ledger.main_entries + ledger.dlq_entries == len(items)
