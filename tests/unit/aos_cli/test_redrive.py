"""Redrive's pure parts: a dead-letter entry's replay, batches per statistics hour."""

from __future__ import annotations

from aos.redrive import RedriveSummary, _batches, replay_of
from sidecar_fn.ports import Retirement

ENTRY = {
    b"reason": b"retries_exhausted",
    b"raw": b'{"invoice_id": "INV-1"}',
    b"error": b"down",
    b"source_id": b"src",
    b"item_id": b"msg-1",
    b"received_at": b"2026-01-02T03:04:05.678Z",
}


def test_a_first_replay_derives_its_id_from_the_item_and_the_entry() -> None:
    replay = replay_of("1700-0", dict(ENTRY))
    assert replay is not None
    assert replay.item_id == "msg-1:redrive:1700-0"
    assert replay.retirement == Retirement("1700-0", "msg-1", 1)
    assert (replay.previous_reason, replay.raw) == ("retries_exhausted", ENTRY[b"raw"])


def test_a_replay_of_a_replay_keeps_the_original_and_counts_attempts() -> None:
    again = {
        **ENTRY,
        b"item_id": b"msg-1:redrive:1700-0",
        b"redriven_from": b"msg-1",
        b"attempts": b"2",
    }
    replay = replay_of("1800-0", again)
    assert replay is not None
    assert replay.item_id == "msg-1:redrive:1800-0"
    assert replay.retirement == Retirement("1800-0", "msg-1", 3)


def test_entries_that_cannot_be_replayed_are_none() -> None:
    assert replay_of("1-0", {k: v for k, v in ENTRY.items() if k != b"raw"}) is None
    assert replay_of("1-0", {**ENTRY, b"received_at": b"yesterday"}) is None
    assert replay_of("1-0", {**ENTRY, b"item_id": b""}) is None


def test_batches_never_mix_hours_and_respect_the_size() -> None:
    def at(hour: int, n: int):
        replay = replay_of(
            f"{n}-0", {**ENTRY, b"received_at": f"2026-01-02T{hour:02d}:00:00Z".encode()}
        )
        assert replay is not None
        return replay

    replays = [at(1, 0), at(1, 1), at(1, 2), at(2, 3), at(1, 4)]
    sizes = [[r.retirement.entry_id for r in batch] for batch in _batches(replays, 2)]
    assert sizes == [["0-0", "1-0"], ["2-0"], ["3-0"], ["4-0"]]


def test_the_summary_reconciles_only_when_the_streams_moved_by_the_outcomes() -> None:
    summary = RedriveSummary(
        "retries_exhausted",
        "src",
        False,
        dlq_before=10,
        selected=4,
        repaired=3,
        unrepairable=1,
        main_added=3,
        dlq_after=7,
    )
    assert summary.reconciled
    summary.main_added = 2
    assert not summary.reconciled
    assert "NO:" in summary.to_text()


def test_select_filters_by_reason_source_since_and_limit() -> None:
    from datetime import UTC, datetime

    import fakeredis

    from aos.redrive import Redrive, RedriveOptions

    class Sidecar:
        source_id = "src"

    client = fakeredis.FakeRedis()
    rows = [
        ("1000-0", "retries_exhausted", "src"),
        ("2000-0", "malformed", "src"),
        ("3000-0", "retries_exhausted", "other"),
        ("4000-0", "retries_exhausted", "src"),
        ("5000-0", "retries_exhausted", "src"),
    ]
    for entry_id, reason, source in rows:
        client.xadd(
            "dlq", {**ENTRY, b"reason": reason.encode(), b"source_id": source.encode()}, id=entry_id
        )
    redrive = Redrive(client, Sidecar(), "dlq", "main")  # type: ignore[arg-type]

    chosen, _ = redrive.select(RedriveOptions("retries_exhausted"))
    assert [r.retirement.entry_id for r in chosen] == ["1000-0", "4000-0", "5000-0"]
    since = datetime.fromtimestamp(3.5, tz=UTC)
    chosen, _ = redrive.select(RedriveOptions("retries_exhausted", since=since, limit=1))
    assert [r.retirement.entry_id for r in chosen] == ["4000-0"]
