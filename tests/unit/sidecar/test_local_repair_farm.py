"""Property: on the farm's stream, a local repair never yields a value the source does not hold."""

from __future__ import annotations

from pathlib import Path

import orjson
from chalicelib.catalogue import Catalogue
from chalicelib.chaos import DRIFTED, ChaosRates, record_at
from chalicelib.field_drift import KindShares
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar_fn.drift import drifted_fields
from sidecar_fn.healing import DriftTally, Healer
from sidecar_fn.schema import BUILTIN_SCHEMA, load_schema
from sidecar_fn.verify import same_value

SIZE = 1_000_000
CATALOGUE = Catalogue(SIZE)
FULL = load_schema(
    str(Path(__file__).resolve().parents[3] / "sidecar_fn/schemas/invoice_full.json")
)
shares = st.builds(
    KindShares,
    renamed=st.floats(0.0, 0.5),
    string_number=st.floats(0.0, 0.5),
    case=st.floats(0.0, 0.25),
    empty=st.floats(0.0, 0.25),
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 2**63 - 1),
    st.integers(0, 2**53 - 1),
    shares,
    st.sampled_from([BUILTIN_SCHEMA, FULL]),
)
def test_local_repairs_agree_with_the_source_of_truth(
    seed: int, sequence: int, kinds: KindShares, schema: object
) -> None:
    assert schema is BUILTIN_SCHEMA or schema is FULL
    rates = ChaosRates(1.0, 0.0, 0.05, kinds)
    record = record_at(seed, True, sequence, rates, SIZE)
    value = orjson.loads(record.data)
    drifted = drifted_fields(value, schema)
    healer = Healer(schema, verify_share=0.0)
    triage = healer.triage(str(sequence), value, drifted, DriftTally())
    if record.kind != DRIFTED:
        assert triage.repairs == {}
        return
    truth = CATALOGUE.lookup(value["invoice_id"])
    assert truth is not None
    for name in triage.repairs:
        local, source = triage.record[name], truth[name]
        assert same_value(local, source) and type(local) is type(source), name
    if schema is FULL and not triage.remaining:
        assert triage.record == truth


def test_most_certain_drift_on_the_default_stream_is_repaired_locally() -> None:
    rates = ChaosRates(1.0, 0.0, 0.0, KindShares())
    healer = Healer(BUILTIN_SCHEMA, verify_share=0.0)
    local = 0
    for sequence in range(2000):
        record = record_at(0, True, sequence, rates, SIZE)
        value = orjson.loads(record.data)
        triage = healer.triage(
            str(sequence), value, drifted_fields(value, BUILTIN_SCHEMA), DriftTally()
        )
        certain = {
            field
            for field, kind in zip(record.drifted_fields, record.drift_kinds, strict=True)
            if kind in ("wrong_type", "case") or (kind == "renamed" and field in triage.drift)
        }
        assert set(triage.repairs) == certain
        local += not triage.remaining
    assert local > 600
