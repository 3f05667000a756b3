"""Source of truth slow, flaky, down, rate-limited, lying or garbled: nothing lost or wrong."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from .batches import UNKNOWN_NUMBER, mixed_items
from .conftest import SidecarFactory, sidecar_env
from .delivery import deliver, redeliver_failed
from .evil_sot import (
    EvilSourceOfTruth,
    RecordingServer,
    degrade,
    invoice_number,
    pristine_invoice,
)
from .farm_truth import FarmTruth
from .ledger import ReadStreams, check_ledger, expected_outcome
from .redis_server import free_port

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ITEMS = mixed_items("sot", 60)


def _needs_source(raw: bytes) -> bool:
    """Drifted with a well-formed id: only the source of truth can settle it."""
    if expected_outcome(raw) not in ("repaired", "unrepairable"):
        return False
    invoice_id = json.loads(raw).get("invoice_id")
    return isinstance(invoice_id, str) and invoice_number(invoice_id) is not None


NEEDS_SOURCE = {i for i, raw in ITEMS if _needs_source(raw)}
NEEDS_NOTHING = {i for i, raw in ITEMS if expected_outcome(raw) in ("clean", "malformed")}
DEADLINE_GUARD_S = 12.0
"""Four times a 3 s Lambda budget: a batch still reading then has ignored its deadline."""
HOSTILE = [
    "limit",
    "unavailable",
    "unauthorized",
    "garbage",
    "truncated_json",
    "short_body",
    "drop",
    "not_array",
    "wrong_length",
    "redirect",
    "wrong_invoice",
]


@pytest.mark.parametrize("behaviour", HOSTILE)
def test_hostile_source_never_lets_a_wrong_record_through(
    behaviour: str,
    evil_sot: EvilSourceOfTruth,
    bystander: RecordingServer,
    read_streams: ReadStreams,
    evil_sidecar: Any,
) -> None:
    evil_sot.set(behaviour)
    first = deliver(evil_sidecar, ITEMS, budget_ms=5_000)

    ledger = read_streams()
    assert check_ledger(ledger, dict(ITEMS), pending=first.failed, exact_outcomes=False) == []
    assert set(first.failed) <= NEEDS_SOURCE
    assert ledger.item_ids() >= NEEDS_NOTHING, "records that need no repair were held back"
    assert not (ledger.item_ids() & {i for i, raw in ITEMS if expected_outcome(raw) == "repaired"})
    assert bystander.requests == [], "a redirect off the source-of-truth host was followed"
    assert evil_sot.unintended() == []

    evil_sot.set("ok")
    assert redeliver_failed(evil_sidecar, ITEMS, first.failed) == []
    ledger = read_streams()
    exact = behaviour != "wrong_invoice"
    assert check_ledger(ledger, dict(ITEMS), exact_outcomes=exact) == []
    assert bystander.requests == []


def test_wrong_invoice_is_never_merged(
    evil_sot: EvilSourceOfTruth,
    read_streams: ReadStreams,
    evil_sidecar: Any,
) -> None:
    evil_sot.set("wrong_invoice")
    first = deliver(evil_sidecar, ITEMS, budget_ms=5_000)
    ledger = read_streams()
    repaired_in_main = [
        item for item, envelopes in ledger.main.items() if envelopes[0]["meta"]["is_repaired"]
    ]
    assert repaired_in_main == []
    assert check_ledger(ledger, dict(ITEMS), pending=first.failed, exact_outcomes=False) == []


def test_slow_source_past_the_deadline_fails_items_back(
    evil_sot: EvilSourceOfTruth,
    read_streams: ReadStreams,
    evil_sidecar: Any,
) -> None:
    evil_sot.delay_seconds = 3.0
    evil_sot.set("slow")
    first = deliver(evil_sidecar, ITEMS, budget_ms=1_500)
    assert set(first.failed) == NEEDS_SOURCE
    ledger = read_streams()
    assert check_ledger(ledger, dict(ITEMS), pending=first.failed, exact_outcomes=False) == []
    evil_sot.set("ok")
    assert redeliver_failed(evil_sidecar, ITEMS, first.failed) == []
    ledger = read_streams()
    assert check_ledger(ledger, dict(ITEMS)) == []


def test_source_down_fails_back_only_what_needs_it(
    make_sidecar: SidecarFactory, keyspace: Any, redis_url: str, read_streams: ReadStreams
) -> None:
    sidecar = make_sidecar(
        sidecar_env(keyspace.env(), redis_url, f"http://127.0.0.1:{free_port()}")
    )
    first = deliver(sidecar, ITEMS, budget_ms=5_000)
    assert set(first.failed) == NEEDS_SOURCE
    ledger = read_streams()
    assert check_ledger(ledger, dict(ITEMS), pending=first.failed) == []
    assert first.counts["failed"] == len(NEEDS_SOURCE)


@pytest.fixture
def farm_truth_factory() -> Iterator[Any]:
    """FarmTruth oracles, closed afterwards."""
    made: list[FarmTruth] = []

    def make(url: str) -> FarmTruth:
        made.append(FarmTruth(url))
        return made[-1]

    yield make
    for truth in made:
        truth.close()


@pytest.mark.parametrize(
    "fault",
    [{"FARM_SOT_FAILURE_RATE": "0.3"}, {"FARM_SOT_LATENCY_MS": "150"}],
    ids=["flaky-0.3", "slow-150ms"],
)
def test_real_farm_flaky_or_slow(
    fault: dict[str, str],
    farm_factory: Any,
    farm_truth_factory: Any,
    make_sidecar: SidecarFactory,
    keyspace: Any,
    redis_url: str,
    read_streams: ReadStreams,
) -> None:
    farm = farm_factory(fault)
    truth = farm_truth_factory(farm.url)
    truth.prefetch([f"INV-{n}" for n in range(1000, 1400)] + [f"INV-{UNKNOWN_NUMBER}"])
    items = mixed_items("farm", 400, start=1000, truth=truth)
    env = {**sidecar_env(keyspace.env(), redis_url, farm.url), "AOS_SOT_MAX_ATTEMPTS": "1"}
    sidecar = make_sidecar(env)
    failed: list[str] = []
    for start in range(0, len(items), 25):
        failed += deliver(sidecar, items[start : start + 25]).failed
    ledger = read_streams()
    assert check_ledger(ledger, dict(items), pending=failed, sot=truth) == []
    assert redeliver_failed(sidecar, items, failed, rounds=20) == []
    ledger = read_streams()
    assert check_ledger(ledger, dict(items), sot=truth) == []
    assert ledger.main_entries + ledger.dlq_entries == len(items)


def test_partial_source_failure_fails_back_only_the_unanswered_chunk(
    evil_sot: EvilSourceOfTruth,
    make_sidecar: SidecarFactory,
    keyspace: Any,
    redis_url: str,
    read_streams: ReadStreams,
) -> None:
    items = mixed_items("chunks", 1_500)
    needs_source = {i for i, raw in items if _needs_source(raw)}
    env = {**sidecar_env(keyspace.env(), redis_url, evil_sot.url), "AOS_SOT_MAX_ATTEMPTS": "1"}
    sidecar = make_sidecar(env)
    evil_sot.set("every_other")
    first = deliver(sidecar, items)
    assert set(first.failed) <= needs_source
    assert 0 < len(first.failed) < len(needs_source), "expected some chunks answered, some not"
    ledger = read_streams()
    assert check_ledger(ledger, dict(items), pending=first.failed) == []
    evil_sot.set("ok")
    assert redeliver_failed(sidecar, items, first.failed) == []
    ledger = read_streams()
    assert check_ledger(ledger, dict(items)) == []


def test_drip_fed_answer_does_not_hold_the_batch_past_its_deadline(
    evil_sot: EvilSourceOfTruth,
    read_streams: ReadStreams,
    evil_sidecar: Any,
) -> None:
    evil_sot.drip_interval = 0.05
    evil_sot.set("drip")
    outcome: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcome.append(deliver(evil_sidecar, ITEMS, budget_ms=3_000)), daemon=True
    )
    worker.start()
    worker.join(timeout=DEADLINE_GUARD_S)
    still_reading = worker.is_alive()
    evil_sot.close()
    worker.join(timeout=30)
    assert not still_reading, f"the batch was still reading after {DEADLINE_GUARD_S} s"
    assert set(outcome[0].failed) == NEEDS_SOURCE
    assert evil_sot.drips_finished == 0
    ledger = read_streams()
    assert check_ledger(ledger, dict(ITEMS), pending=outcome[0].failed) == []


@pytest.mark.parametrize("behaviour", ["lacks_fields", "mistyped"])
def test_source_lacking_the_field_too_makes_the_record_unrepairable(
    behaviour: str,
    evil_sot: EvilSourceOfTruth,
    read_streams: ReadStreams,
    evil_sidecar: Any,
) -> None:
    def truth(invoice_id: str) -> dict[str, Any] | None:
        return degrade(pristine_invoice(invoice_id), behaviour)

    evil_sot.set(behaviour)
    assert deliver(evil_sidecar, ITEMS).failed == []
    ledger = read_streams()
    assert check_ledger(ledger, dict(ITEMS), sot=truth) == []
    assert ledger.dlq_reasons()["unrepairable"] > 0
