"""Pure drift statistics: bucket names, unexpected fields, contributions and their table."""

from __future__ import annotations

import pytest

from sidecar_fn.drift_stats import (
    MAX_UNEXPECTED_PER_RECORD,
    NOTHING,
    BatchStats,
    ContributionCache,
    bucket_hour,
    contribution,
    replay_contribution,
    stats_key,
    unexpected_names,
)
from sidecar_fn.schema import BUILTIN_SCHEMA

from .fakes import pristine


def test_the_bucket_is_the_utc_hour_of_received_at() -> None:
    assert stats_key("src", "2026-01-02T03:04:05.678Z") == "aos:stats:src:2026010203"
    assert bucket_hour("2026-12-31T23:59:59.999Z") == "2026123123"
    with pytest.raises(ValueError, match="not an ISO 8601"):
        bucket_hour("yesterday")


def test_a_pristine_invoice_has_no_unexpected_field_under_the_builtin_schema() -> None:
    assert unexpected_names(pristine("INV-5"), BUILTIN_SCHEMA.known) == ()


def test_unexpected_fields_are_sorted_escaped_and_capped() -> None:
    record = {**pristine("INV-5"), "vendorId": "V", "bad\nname": 1, "x" * 100: 2}
    assert unexpected_names(record, BUILTIN_SCHEMA.known) == (
        "bad\\nname",
        "vendorId",
        "x" * 61 + "...",
    )
    many = {f"extra{n:02d}": n for n in range(MAX_UNEXPECTED_PER_RECORD + 5)}
    shown = unexpected_names(many, BUILTIN_SCHEMA.known)
    assert len(shown) == MAX_UNEXPECTED_PER_RECORD + 1
    assert shown[-1] == "(more)"


def test_a_schema_that_names_no_known_fields_reports_none_unexpected() -> None:
    assert unexpected_names({"invoice_id": "INV-1", "x": 1}, None) == ()
    assert unexpected_names({"invoice_id": "INV-1", "x": 1}, frozenset({"invoice_id"})) == ("x",)


def test_contributions_name_every_hash_field() -> None:
    assert contribution("clean") == (("records", 1), ("clean", 1))
    assert dict(
        contribution(
            "repaired", drifted=("vendor_id",), repaired=("vendor_id",), unexpected=("vendorId",)
        )
    ) == {
        "records": 1,
        "repaired": 1,
        "drifted": 1,
        "drift:vendor_id": 1,
        "repaired:vendor_id": 1,
        "unexpected:vendorId": 1,
    }


def test_a_replay_moves_the_record_between_outcomes_without_counting_it_again() -> None:
    assert dict(replay_contribution("retries_exhausted", "repaired", repaired=("status",))) == {
        "retries_exhausted": -1,
        "repaired": 1,
        "repaired:status": 1,
    }
    assert replay_contribution("malformed", "malformed") == NOTHING


def test_batch_stats_keep_one_table_entry_per_distinct_contribution() -> None:
    stats = BatchStats("k", 60)
    clean = contribution("clean")
    fixed = contribution("repaired", drifted=("vendor_id",), repaired=("vendor_id",))
    stats.extend([clean, clean, fixed, NOTHING, clean])
    assert stats.contributions == [NOTHING, clean, fixed]
    assert stats.encoded_positions() == (1, bytes([1, 1, 2, 0, 1]))
    assert len(stats) == 5
    assert stats.totals([True, False, True, True, True]) == {
        "records": 3,
        "clean": 2,
        "repaired": 1,
        "drifted": 1,
        "drift:vendor_id": 1,
        "repaired:vendor_id": 1,
    }


def test_past_255_distinct_contributions_indices_take_two_bytes() -> None:
    stats = BatchStats("k", 60)
    items = [contribution("clean", unexpected=(f"f{n}",)) for n in range(300)]
    stats.extend(items)
    width, packed = stats.encoded_positions()
    assert width == 2 and packed[-2:] == (300).to_bytes(2, "big")


def test_the_cache_hands_out_one_object_per_contribution() -> None:
    cache = ContributionCache(limit=2)
    first = cache.get("repaired", ("vendor_id",), ("vendor_id",))
    assert cache.get("repaired", ("vendor_id",), ("vendor_id",)) is first
    assert first == contribution("repaired", drifted=("vendor_id",), repaired=("vendor_id",))
    cache.get("clean")
    cache.get("malformed")
    assert cache.get("repaired", ("vendor_id",), ("vendor_id",)) == first


def test_a_drifted_record_counts_each_field_under_its_kind() -> None:
    pairs = dict(
        contribution(
            "repaired",
            drifted=("vendor_id", "status", "total_amount"),
            repaired=("vendor_id", "status", "total_amount"),
            kinds=("renamed", "case", "renamed"),
        )
    )
    assert pairs["kind:renamed"] == 2 and pairs["kind:case"] == 1
    assert "kind:renamed" not in dict(contribution("clean", kinds=("renamed",)))
    cache = ContributionCache()
    assert cache.get("repaired", ("status",), ("status",), (), ("case",)) is not cache.get(
        "repaired", ("status",), ("status",), (), ("empty",)
    )
