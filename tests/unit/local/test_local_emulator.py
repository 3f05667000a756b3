"""The event source mapping emulation: delivery, redelivery, dead-letter, checkpoint, stop."""

from __future__ import annotations

import threading

import pytest
from runner_fakes import FakeCheckpoints, FakeSidecar, records

from local.emulator import Emulator, EmulatorSettings, RunAborted
from local.events import EventFactory
from local.summary import RunSummary, RunTotals


def make(
    sidecar: FakeSidecar,
    *,
    batch_size: int = 3,
    max_attempts: int = 3,
    source: str = "sqs",
    stop: threading.Event | None = None,
    on_batch=None,
) -> tuple[Emulator, FakeCheckpoints, list[float], list[str]]:
    checkpoints = FakeCheckpoints()
    sleeps: list[float] = []
    warnings: list[str] = []
    emulator = Emulator(
        sidecar,
        EventFactory(source, seed=7, chaos=True),  # type: ignore[arg-type]
        checkpoints,
        settings=EmulatorSettings(batch_size=batch_size, max_attempts=max_attempts),
        stop=stop,
        on_batch=on_batch,
        warn=warnings.append,
        sleep=sleeps.append,
        now_ms=lambda: 1_700_000_000_000,
    )
    return emulator, checkpoints, sleeps, warnings


def summary_of(totals: RunTotals, sidecar: FakeSidecar, main_before: int = 0, dlq_before: int = 0):
    return RunSummary(
        totals=totals,
        main_added=len(sidecar.main) - main_before,
        dlq_added=len(sidecar.dlq) - dlq_before,
        elapsed_seconds=1.0,
        source_id="s",
        stream="m",
        dlq_stream="d",
        event_source="sqs",
        redis="fake",
        farm_url="http://farm",
    )


def test_every_record_gets_one_outcome_and_each_batch_is_checkpointed() -> None:
    sidecar = FakeSidecar()
    emulator, checkpoints, sleeps, _ = make(sidecar)
    texts = ["clean", "fix", "bad", "lost", "clean", "clean", "fix"]
    totals = emulator.run(records(texts, start=10), RunTotals(start_cursor=10))

    assert (totals.read, totals.clean, totals.repaired) == (7, 3, 2)
    assert (totals.malformed, totals.unrepairable, totals.retries) == (1, 1, 0)
    assert totals.batches == 3 and totals.invocations == 3
    assert checkpoints.saved == [13, 16, 17]
    assert totals.next_cursor == 17
    assert sleeps == []
    assert [len(e["Records"]) for e in sidecar.events] == [3, 3, 1]
    assert summary_of(totals, sidecar).reconciled


def test_failed_items_alone_are_redelivered_with_backoff_and_a_higher_receive_count() -> None:
    sidecar = FakeSidecar()
    emulator, checkpoints, sleeps, _ = make(sidecar, batch_size=4)
    totals = emulator.run(records(["clean", "flaky1", "flaky2", "fix"]), RunTotals())

    assert totals.clean == 3 and totals.repaired == 1
    assert totals.retries == 3
    assert totals.retries_exhausted == 0
    assert sleeps == [0.2, 0.4]
    redelivered = sidecar.events[1]["Records"]
    assert len(redelivered) == 2
    assert {r["attributes"]["ApproximateReceiveCount"] for r in redelivered} == {"2"}
    assert len(sidecar.events[2]["Records"]) == 1
    assert checkpoints.saved == [4]
    assert summary_of(totals, sidecar).reconciled


def test_items_failing_every_delivery_are_dead_lettered_as_retries_exhausted() -> None:
    sidecar = FakeSidecar()
    emulator, checkpoints, sleeps, _ = make(sidecar, batch_size=5, max_attempts=2)
    totals = emulator.run(records(["clean", "down-1", "bad", "down-2"]), RunTotals())

    assert totals.retries_exhausted == 2
    assert totals.retries == 2
    assert sleeps == [0.2]
    [(items, reason, error)] = sidecar.dead_letters
    assert reason == "retries_exhausted"
    assert [raw for _, raw in items] == [b"down-1", b"down-2"]
    assert error == "not processed after 2 deliveries; last error: HTTP 503 on delivery 2"
    ids = {sidecar.events[0]["Records"][i]["messageId"] for i in (1, 3)}
    assert {item_id for item_id, _ in items} == ids
    assert all(sidecar.deliveries[i] == 2 for i in ids)
    assert checkpoints.saved == [4]
    assert summary_of(totals, sidecar).reconciled


def test_a_handler_exception_fails_the_whole_batch_which_is_delivered_again() -> None:
    sidecar = FakeSidecar()
    sidecar.raise_on_call = {1}
    emulator, _, sleeps, warnings = make(sidecar)
    totals = emulator.run(records(["clean", "fix", "bad"]), RunTotals())

    assert totals.failed_invocations == 1
    assert totals.retries == 3
    assert (totals.clean, totals.repaired, totals.malformed) == (1, 1, 1)
    assert len(sidecar.events[1]["Records"]) == 3
    assert sleeps == [0.2]
    assert len(warnings) == 1 and "ConnectionError" in warnings[0]
    assert summary_of(totals, sidecar).reconciled


def test_batch_failed_hands_every_record_back_and_counts_as_a_failed_invocation() -> None:
    sidecar = FakeSidecar()
    emulator, checkpoints, sleeps, warnings = make(sidecar, batch_size=2, max_attempts=3)
    totals = emulator.run(records(["down-1", "down-2", "clean"]), RunTotals())

    assert totals.failed_invocations == 3
    assert totals.retries == 4
    assert totals.retries_exhausted == 2
    assert totals.clean == 1
    assert sleeps == [0.2, 0.4]
    assert warnings == [], "an outage is counted, not reported per delivery"
    [(items, reason, error)] = sidecar.dead_letters
    assert reason == "retries_exhausted" and [raw for _, raw in items] == [b"down-1", b"down-2"]
    assert "HTTP 503 on delivery 3" in error  # the last real error, not the invocation failure
    assert checkpoints.saved == [2, 3]
    assert summary_of(totals, sidecar).reconciled


def test_an_unknown_id_in_batch_item_failures_fails_the_whole_batch_as_in_lambda() -> None:
    sidecar = FakeSidecar()
    sidecar.answer_unknown_id_on_call = {1}
    emulator, _, _, warnings = make(sidecar)
    totals = emulator.run(records(["clean", "clean"]), RunTotals())

    assert totals.failed_invocations == 1
    assert totals.retries == 2
    assert totals.already_processed == 0
    assert totals.clean == 2
    assert "invalid batchItemFailures" in warnings[0]
    assert summary_of(totals, sidecar).reconciled


def test_kinesis_failures_are_reported_by_sequence_number() -> None:
    sidecar = FakeSidecar()
    emulator, _, _, _ = make(sidecar, source="kinesis")
    totals = emulator.run(records(["flaky1", "clean"]), RunTotals())

    assert totals.retries == 1 and totals.clean == 2
    [again] = sidecar.events[1]["Records"]
    assert (
        again["kinesis"]["sequenceNumber"]
        == sidecar.events[0]["Records"][0]["kinesis"]["sequenceNumber"]
    )


def test_a_stop_request_finishes_the_current_batch_then_stops() -> None:
    sidecar = FakeSidecar()
    stop = threading.Event()
    emulator, checkpoints, _, _ = make(sidecar, stop=stop, on_batch=lambda _t: stop.set())
    totals = emulator.run(records(["clean"] * 9), RunTotals())

    assert totals.read == 3
    assert checkpoints.saved == [3]
    assert summary_of(totals, sidecar).reconciled


def test_an_interrupt_mid_batch_leaves_the_checkpoint_before_it() -> None:
    sidecar = FakeSidecar()
    sidecar.interrupt_on_call = 2
    emulator, checkpoints, _, _ = make(sidecar)
    totals = RunTotals()
    with pytest.raises(KeyboardInterrupt):
        emulator.run(records(["clean"] * 9), totals)

    assert totals.read == 3
    assert totals.abandoned == 3
    assert checkpoints.saved == [3]


def test_an_undeliverable_dead_letter_aborts_the_run_before_the_checkpoint() -> None:
    sidecar = FakeSidecar()
    sidecar.dead_letter_error = ConnectionError("no redis")
    emulator, checkpoints, _, _ = make(sidecar, max_attempts=1)
    totals = RunTotals()
    with pytest.raises(RunAborted, match="cannot dead-letter 1 records"):
        emulator.run(records(["clean", "clean", "clean", "down"]), totals)

    assert checkpoints.saved == [3]
    assert totals.read == 3 and totals.abandoned == 1


def test_a_replayed_run_counts_records_already_in_the_streams_and_still_reconciles() -> None:
    sidecar = FakeSidecar()
    texts = ["clean", "fix", "bad", "down", "lost"]
    first, _, _, _ = make(sidecar, max_attempts=1)
    first.run(records(texts), RunTotals())
    main_before, dlq_before = len(sidecar.main), len(sidecar.dlq)

    again, _, _, _ = make(sidecar, max_attempts=1)
    totals = again.run(records(texts), RunTotals())

    assert totals.already_processed == 5
    assert totals.accounted == 5
    assert totals.retries_exhausted == 1
    assert (len(sidecar.main), len(sidecar.dlq)) == (main_before, dlq_before)
    assert summary_of(totals, sidecar, main_before, dlq_before).reconciled


def test_backoff_doubles_up_to_its_cap() -> None:
    settings = EmulatorSettings(retry_backoff_seconds=1.0, max_backoff_seconds=3.0)
    assert [settings.backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]


def test_a_handler_that_raises_on_the_last_delivery_is_the_last_error() -> None:
    sidecar = FakeSidecar()
    sidecar.raise_on_call = {2}
    emulator, _, _, _ = make(sidecar, batch_size=5, max_attempts=2)
    emulator.run(records(["down-1"]), RunTotals())
    [(_items, _reason, error)] = sidecar.dead_letters
    assert error == (
        "not processed after 2 deliveries; last error: handler raised ConnectionError:"
        " redis went away"
    )


def test_items_failing_with_the_same_last_error_share_one_dead_letter_write() -> None:
    sidecar = FakeSidecar()
    emulator, _, _, _ = make(sidecar, batch_size=5, max_attempts=3)
    emulator.run(records(["flaky9-a", "down-b"]), RunTotals())
    errors = sorted(error for _items, _reason, error in sidecar.dead_letters)
    assert errors == ["not processed after 3 deliveries; last error: HTTP 503 on delivery 3"]
    [(items, _, _)] = sidecar.dead_letters
    assert len(items) == 2
