"""Summary math: reconciliation, throughput, JSON and text forms."""

from __future__ import annotations

import json
from dataclasses import replace

from local.summary import RunSummary, RunTotals, lookup_cache_counts
from sidecar_fn.source_cache import CachedSourceOfTruth
from tests.unit.sidecar.fakes import FakeSource


def totals(**kwargs: int) -> RunTotals:
    t = RunTotals(read=10, clean=6, repaired=2, malformed=1, unrepairable=1)
    for name, value in kwargs.items():
        setattr(t, name, value)
    return t


def summary(t: RunTotals, main: int | None, dlq: int | None, elapsed: float = 2.0) -> RunSummary:
    return RunSummary(
        totals=t,
        main_added=main,
        dlq_added=dlq,
        elapsed_seconds=elapsed,
        source_id="src",
        stream="aos:invoices",
        dlq_stream="aos:invoices:dlq",
        event_source="sqs",
        redis="embedded",
        farm_url="http://farm",
    )


def test_streams_and_outcomes_that_add_up_reconcile() -> None:
    s = summary(totals(), 8, 2)
    assert s.reconciled
    assert s.records_per_second == 5.0
    assert "yes: 8 main + 2 dead letters = 10 read" in s.to_text()


def test_a_missing_entry_or_an_extra_one_does_not_reconcile() -> None:
    assert not summary(totals(), 7, 2).reconciled
    assert not summary(totals(), 9, 2).reconciled
    assert "NO:" in summary(totals(), 7, 2).to_text()


def test_outcomes_must_cover_every_record_read() -> None:
    assert not summary(totals(clean=5), 8, 2).reconciled


def test_replayed_records_count_as_already_in_the_streams() -> None:
    t = totals(already_processed=3)
    assert summary(t, 5, 2).reconciled
    assert "+ 3 already in streams" in summary(t, 5, 2).to_text()


def test_retries_exhausted_is_an_outcome_that_lands_in_the_dead_letter_stream() -> None:
    t = totals(clean=5, retries_exhausted=1, retries=4)
    assert t.accounted == 10
    assert summary(t, 7, 3).reconciled


def test_an_abandoned_batch_may_have_written_part_of_itself() -> None:
    t = totals(abandoned=4)
    assert summary(t, 8, 2).reconciled
    assert summary(t, 11, 3).reconciled
    assert not summary(t, 12, 3).reconciled
    assert "4 records of an unfinished batch" in summary(t, 8, 2).to_text()


def test_unknown_stream_growth_never_reconciles() -> None:
    s = summary(totals(), None, 2)
    assert not s.reconciled
    assert "unknown" in s.to_text()


def test_zero_elapsed_gives_zero_throughput() -> None:
    assert summary(RunTotals(), 0, 0, elapsed=0.0).records_per_second == 0.0


def test_json_form_is_flat_and_names_every_count() -> None:
    d = json.loads(json.dumps(summary(totals(retries=2), 8, 2).to_dict()))
    for key in (
        "read", "clean", "repaired", "malformed", "unrepairable", "retries",
        "retries_exhausted", "records_per_second", "main_stream_added", "dlq_added",
        "reconciled", "next_cursor",
    ):  # fmt: skip
        assert key in d
    assert d["main_stream_added"] + d["dlq_added"] == d["read"]
    assert d["retries"] == 2 and d["reconciled"] is True


def test_add_outcomes_ignores_failed_and_unknown_keys() -> None:
    t = RunTotals()
    t.add_outcomes({"clean": 2, "failed": 5, "repaired": 1, "retries_exhausted": 1, "x": 9})
    assert (t.clean, t.repaired, t.retries_exhausted, t.accounted) == (2, 1, 1, 4)


class Tally:
    """A batch report's drift tally, as the sidecar hands it over."""

    def __init__(self, kinds: dict[str, int], unexpected: dict[str, int]) -> None:
        self.kinds = kinds
        self.unexpected = unexpected
        self.repaired_locally = 3
        self.source_lookups = 1
        self.verified = 2
        self.verify_disagreements = 1


def test_summary_lists_drift_per_kind_local_repairs_and_unexpected_fields() -> None:
    t = totals()
    t.drift.add(Tally({"renamed": 2, "missing": 1}, {"po": 1}))
    t.drift.add(Tally({"case": 1, "renamed": 1}, {}))
    t.drift.add(None)
    text = summary(t, 8, 2).to_text()
    assert "drift by kind         missing 1, renamed 3, case 1  (fields)" in text
    assert (
        "6  records (75% of the drifted ones with an id; 2 looked up, 4 verified, 2 disagreed)"
        in text
    )
    assert "unexpected fields     po 1" in text
    drift = summary(t, 8, 2).to_dict()["drift"]
    assert drift["kinds"] == {"renamed": 3, "missing": 1, "case": 1}
    assert drift["repaired_locally"] == 6
    json.dumps(drift)


def test_summary_without_drift_has_no_drift_lines() -> None:
    assert "drift by kind" not in summary(totals(), 8, 2).to_text()


def test_lookup_cache_hits_show_only_when_the_cache_is_on() -> None:
    class Sidecar:
        def __init__(self, source: object) -> None:
            self.source = source

    assert lookup_cache_counts(Sidecar(FakeSource())) == {}
    assert "lookup cache" not in summary(totals(), 8, 2).to_text()
    cache = CachedSourceOfTruth(FakeSource(), ttl_s=60.0)
    cache.fetch_many(["INV-1", "INV-2"])
    cache.fetch_many(["INV-1", "INV-2", "INV-3"])
    counts = lookup_cache_counts(Sidecar(cache))
    assert counts == {"sot_cache_hits": 2, "sot_cache_lookups": 5}
    with_cache = replace(summary(totals(), 8, 2), extra=counts)
    assert "lookup cache hits              2  of 5 lookups (40.0%)" in with_cache.to_text()
    assert json.loads(json.dumps(with_cache.to_dict()))["sot_cache_hits"] == 2
