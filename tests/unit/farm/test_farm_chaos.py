"""The toxic stream: deterministic per (seed, chaos, sequence), with the documented mix."""

from __future__ import annotations

import collections
from typing import Any

import orjson
import pytest
from chalicelib.catalogue import Catalogue, pristine_invoice
from chalicelib.chaos import (
    CLEAN,
    DRIFT_FIELDS,
    DRIFTED,
    MALFORMED,
    UNREPAIRABLE,
    ChaosRates,
    StreamRecord,
    record_at,
    stream_invoice_number,
    stream_page,
)
from chalicelib.config import FarmConfig
from chalicelib.field_drift import (
    CASE,
    EMPTY,
    KINDS,
    MISSING,
    NULL,
    RENAMED,
    RENAMES,
    WRONG_TYPE,
    KindShares,
)
from hypothesis import given, settings
from hypothesis import strategies as st

DEFAULTS = FarmConfig()
RATES = ChaosRates(
    DEFAULTS.drift_rate, DEFAULTS.malformed_rate, DEFAULTS.unrepairable_share, DEFAULTS.kind_shares
)
MISSING_OR_NULL = KindShares(0.0, 0.0, 0.0, 0.0)
SIZE = 1_000_000
seeds = st.integers(min_value=0, max_value=2**63 - 1)
sequences = st.integers(min_value=0, max_value=2**53 - 1)
shares = st.floats(min_value=0.0, max_value=0.5)


def parse(data: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def sample(seed: int = 0, count: int = 20_000, rates: ChaosRates = RATES) -> list[StreamRecord]:
    return [record_at(seed, True, sequence, rates, SIZE) for sequence in range(count)]


def restored(value: dict[str, Any], record: StreamRecord, truth: dict[str, Any]) -> dict[str, Any]:
    """`value` with each drifted field checked against its kind and put back as the truth."""
    value = dict(value)
    for field, kind in zip(record.drifted_fields, record.drift_kinds, strict=True):
        expected = truth[field]
        if kind == MISSING:
            assert field not in value
        elif kind == NULL:
            assert value[field] is None
        elif kind == EMPTY:
            assert value[field] == ""
        elif kind == WRONG_TYPE:
            assert isinstance(value[field], str)
            assert orjson.dumps(orjson.loads(value[field])) == orjson.dumps(expected)
        elif kind == CASE:
            assert value[field] != expected and value[field].upper() == expected
        else:
            assert kind == RENAMED and field not in value
            paths = [p for p in RENAMES[field] if p[0] in value]
            assert len(paths) == 1
            carried = value.pop(paths[0][0])
            if len(paths[0]) == 2:
                assert carried == {paths[0][1]: expected}
            else:
                assert carried == expected
        value[field] = expected
    return value


@settings(deadline=None)
@given(seeds, st.booleans(), sequences, shares, shares)
def test_record_depends_only_on_its_arguments(
    seed: int, chaos: bool, sequence: int, drift: float, malformed: float
) -> None:
    rates = ChaosRates(drift, malformed, 0.05)
    assert record_at(seed, chaos, sequence, rates, SIZE) == record_at(
        seed, chaos, sequence, rates, SIZE
    )


@settings(max_examples=25, deadline=None)
@given(seeds, st.booleans(), st.integers(min_value=0, max_value=10**12), st.integers(1, 60))
def test_pages_are_identical_bytes_and_independent_of_page_boundaries(
    seed: int, chaos: bool, cursor: int, split: int
) -> None:
    page = stream_page(seed, chaos, cursor, 60, RATES, SIZE)
    assert page == stream_page(seed, chaos, cursor, 60, RATES, SIZE)
    first = orjson.loads(stream_page(seed, chaos, cursor, split, RATES, SIZE))
    rest_limit = 60 - split
    records = first["records"]
    if rest_limit:
        records += orjson.loads(
            stream_page(seed, chaos, first["next_cursor"], rest_limit, RATES, SIZE)
        )["records"]
    assert orjson.loads(page)["records"] == records


def test_page_shape() -> None:
    page = orjson.loads(stream_page(3, True, 10, 5, RATES, SIZE))
    assert page["next_cursor"] == 15
    assert [record["sequence"] for record in page["records"]] == [10, 11, 12, 13, 14]
    assert all(set(record) == {"sequence", "data"} for record in page["records"])
    assert all(isinstance(record["data"], str) for record in page["records"])


@settings(deadline=None)
@given(seeds, sequences)
def test_without_chaos_every_record_is_the_pristine_invoice(seed: int, sequence: int) -> None:
    record = record_at(seed, False, sequence, RATES, SIZE)
    number = stream_invoice_number(seed, sequence, SIZE)
    assert record.kind == CLEAN
    assert orjson.loads(record.data) == pristine_invoice(number)


@settings(deadline=None)
@given(seeds, sequences, shares, shares)
def test_every_object_equals_the_source_of_truth_on_every_field_it_carries(
    seed: int, sequence: int, drift: float, malformed: float
) -> None:
    record = record_at(seed, True, sequence, ChaosRates(drift, malformed, 0.2), SIZE)
    value = parse(record.data)
    if not isinstance(value, dict):
        assert record.kind == MALFORMED
        return
    truth = Catalogue(SIZE).lookup(value["invoice_id"]) if "invoice_id" in value else None
    if record.kind in (CLEAN, DRIFTED):
        assert truth is not None
        assert restored(value, record, truth) == truth
    if record.kind == CLEAN:
        assert value == truth
    if record.kind == UNREPAIRABLE:
        assert truth is None
        assert set(record.drift_kinds) <= {MISSING, NULL}


def test_chaos_mix_matches_the_default_rates() -> None:
    kinds = collections.Counter(record.kind for record in sample())
    total = sum(kinds.values())
    drifted = kinds[DRIFTED] + kinds[UNREPAIRABLE]
    assert 0.13 < drifted / total < 0.17
    assert 0.04 < kinds[MALFORMED] / total < 0.06
    assert 0.03 < kinds[UNREPAIRABLE] / drifted < 0.07
    assert 0.76 < kinds[CLEAN] / total < 0.84


def test_with_only_missing_or_null_drifted_records_lack_or_null_their_drifted_fields() -> None:
    field_counts: collections.Counter[str] = collections.Counter()
    missing = nulls = 0
    rates = ChaosRates(
        RATES.drift_rate, RATES.malformed_rate, RATES.unrepairable_share, MISSING_OR_NULL
    )
    for record in sample(rates=rates):
        if record.kind not in (DRIFTED, UNREPAIRABLE):
            assert record.drifted_fields == ()
            continue
        value = orjson.loads(record.data)
        assert isinstance(value, dict)
        assert record.drifted_fields
        for field in record.drifted_fields:
            field_counts[field] += 1
            if field in value:
                assert value[field] is None
                nulls += 1
            else:
                missing += 1
        for field in set(DRIFT_FIELDS) - set(record.drifted_fields):
            assert value[field] is not None
    assert set(field_counts) == set(DRIFT_FIELDS)
    assert field_counts.most_common(1)[0][0] == "vendor_id"
    assert missing > 0 and nulls > 0


def test_unrepairable_records_name_an_unknown_invoice_or_none() -> None:
    catalogue = Catalogue(SIZE)
    unknown = without_id = 0
    for record in sample(count=40_000):
        if record.kind != UNREPAIRABLE:
            continue
        value = orjson.loads(record.data)
        if "invoice_id" in value:
            assert value["invoice_id"] == record.invoice_id
            assert catalogue.lookup(value["invoice_id"]) is None
            unknown += 1
        else:
            assert record.invoice_id is None
            without_id += 1
    assert unknown > 0 and without_id > 0


def test_malformed_records_are_never_json_objects_and_vary() -> None:
    shapes: set[str] = set()
    for record in sample():
        if record.kind != MALFORMED:
            continue
        assert record.data
        value = parse(record.data)
        assert not isinstance(value, dict)
        shapes.add(type(value).__name__ if value is not None or record.data == "null" else "text")
    assert {"text", "list", "float"} <= shapes


def test_rates_override_the_mix() -> None:
    assert {r.kind for r in sample(count=500, rates=ChaosRates(0.0, 0.0, 0.05))} == {CLEAN}
    assert {r.kind for r in sample(count=500, rates=ChaosRates(0.0, 1.0, 0.05))} == {MALFORMED}
    all_drift = {r.kind for r in sample(count=500, rates=ChaosRates(1.0, 0.0, 0.0))}
    assert all_drift == {DRIFTED}


def test_stream_invoices_are_catalogue_ids_and_distinct_within_a_run() -> None:
    numbers = [stream_invoice_number(0, sequence, SIZE) for sequence in range(1000)]
    assert numbers[:3] == [1, 2, 3]
    assert len(set(numbers)) == 1000
    assert all(1 <= n <= SIZE for n in numbers)
    assert stream_invoice_number(0, SIZE, SIZE) == 1


@pytest.mark.parametrize("seed", [0, 1, 2**63 - 1])
def test_seeds_change_the_stream(seed: int) -> None:
    other = sample(seed + 1 if seed < 2**63 - 1 else 0, count=200)
    assert [r.data for r in sample(seed, count=200)] != [r.data for r in other]


def test_default_kinds_all_occur_and_several_hit_one_record() -> None:
    kinds: collections.Counter[str] = collections.Counter()
    per_field: collections.Counter[tuple[str, str]] = collections.Counter()
    mixed = 0
    for record in sample():
        assert len(record.drift_kinds) == len(record.drifted_fields)
        kinds.update(record.drift_kinds)
        per_field.update(zip(record.drifted_fields, record.drift_kinds, strict=True))
        mixed += len(set(record.drift_kinds)) > 1
    assert set(kinds) == set(KINDS)
    assert {field for field, kind in per_field if kind == WRONG_TYPE} == {"total_amount"}
    assert {field for field, kind in per_field if kind == CASE} == {"status"}
    assert {field for field, kind in per_field if kind == EMPTY} == {"vendor_id", "status"}
    assert {field for field, kind in per_field if kind == RENAMED} == set(DRIFT_FIELDS)
    drifted_fields = sum(kinds.values())
    assert 0.25 < kinds[RENAMED] / drifted_fields < 0.35
    assert mixed > 50


def test_every_rename_style_occurs() -> None:
    seen: set[tuple[str, ...]] = set()
    for record in sample():
        if RENAMED not in record.drift_kinds:
            continue
        value = orjson.loads(record.data)
        for field, kind in zip(record.drifted_fields, record.drift_kinds, strict=True):
            if kind == RENAMED:
                seen.update(p for p in RENAMES[field] if p[0] in value)
    assert seen == {path for paths in RENAMES.values() for path in paths}


def test_drift_counts_by_record_are_the_same_whatever_the_kind_shares() -> None:
    plain = ChaosRates(
        RATES.drift_rate, RATES.malformed_rate, RATES.unrepairable_share, MISSING_OR_NULL
    )
    default = sample(count=3000)
    for a, b in zip(default, sample(count=3000, rates=plain), strict=True):
        assert (a.kind, a.invoice_id, a.drifted_fields) == (b.kind, b.invoice_id, b.drifted_fields)
        if a.kind == UNREPAIRABLE:
            assert a == b


@pytest.mark.parametrize(
    ("shares", "kind"),
    [
        (KindShares(1.0, 0.0, 0.0, 0.0), RENAMED),
        (KindShares(0.0, 0.0, 0.0, 1.0), EMPTY),
        (KindShares(0.0, 0.0, 1.0, 0.0), CASE),
        (KindShares(0.0, 1.0, 0.0, 0.0), WRONG_TYPE),
    ],
)
def test_kind_shares_steer_the_kinds(shares: KindShares, kind: str) -> None:
    rates = ChaosRates(1.0, 0.0, 0.0, shares)
    kinds = collections.Counter(k for r in sample(count=400, rates=rates) for k in r.drift_kinds)
    assert kinds[kind] > 0
    assert set(kinds) <= {kind, MISSING, NULL}
    if kind == RENAMED:
        assert set(kinds) == {RENAMED}


@pytest.mark.parametrize(
    "shares",
    [KindShares(0.6, 0.5, 0.0, 0.0), KindShares(0.5, 0.0, 0.3, 0.3), KindShares(-0.1, 0, 0, 0)],
)
def test_kind_shares_that_cannot_hold_name_their_problem(shares: KindShares) -> None:
    assert shares.problem() is not None
    with pytest.raises(ValueError, match="share"):
        FarmConfig(
            renamed_share=shares.renamed,
            string_number_share=shares.string_number,
            case_share=shares.case,
            empty_share=shares.empty,
        )
