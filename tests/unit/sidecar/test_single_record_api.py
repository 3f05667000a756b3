"""The seed's single-record API: detect_drift, repair_record, wrap_and_push."""

from __future__ import annotations

import fakeredis
import orjson
import pytest

from sidecar_fn.errors import SidecarError, SourceUnavailable, Unrepairable
from sidecar_fn.sidecar import IngestSidecar

from .fakes import CapturedLogger, FakeSource, pristine


def test_source_id(sidecar: IngestSidecar) -> None:
    assert sidecar.source_id == "unit-src"


def test_detect_drift(sidecar: IngestSidecar) -> None:
    assert not sidecar.detect_drift(pristine("INV-1"))
    assert sidecar.detect_drift({**pristine("INV-1"), "vendor_id": None})
    assert sidecar.detect_drift({"invoice_id": "INV-1"})


def test_repair_record_fills_from_truth_and_logs(
    sidecar: IngestSidecar, captured: CapturedLogger
) -> None:
    record = {"invoice_id": "INV-102", "total_amount": 3, "status": "PAID"}
    repaired = sidecar.repair_record(record)
    assert repaired == {**record, "vendor_id": pristine("INV-102")["vendor_id"]}
    assert captured.messages() == [
        "Drift Detected for INV-102. Fetching repair...",
        "Record Repaired.",
    ]


def test_repair_record_of_clean_record_is_a_copy(sidecar: IngestSidecar) -> None:
    record = pristine("INV-4")
    repaired = sidecar.repair_record(record)
    assert repaired == record
    assert repaired is not record


def test_repair_record_failures(sidecar: IngestSidecar, source: FakeSource) -> None:
    with pytest.raises(Unrepairable, match="no invoice_id"):
        sidecar.repair_record({"status": "PAID"})
    with pytest.raises(Unrepairable, match="unknown"):
        sidecar.repair_record({"invoice_id": "INV-99999999", "status": "PAID"})
    source.unanswered = {"INV-5"}
    with pytest.raises(SourceUnavailable):
        sidecar.repair_record({"invoice_id": "INV-5"})


def test_wrap_and_push_runs_the_batch_rules(
    sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis, source: FakeSource
) -> None:
    assert sidecar.wrap_and_push(pristine("INV-1")) == "clean"
    assert sidecar.wrap_and_push({"invoice_id": "INV-2", "status": "PAID"}) == "repaired"
    assert sidecar.wrap_and_push({"invoice_id": "INV-2", "status": "PAID"}) == "repaired"
    assert sidecar.wrap_and_push({"status": "PAID"}, item_id="x") == "unrepairable"
    assert fake_redis.xlen("unit:main") == 2
    [_, second] = fake_redis.xrange("unit:main")
    assert orjson.loads(second[1][b"envelope"])["meta"]["item_id"] == "INV-2"
    source.error = SourceUnavailable("down")
    with pytest.raises(SidecarError, match="down"):
        sidecar.wrap_and_push({"invoice_id": "INV-3", "status": "PAID"})
    assert fake_redis.xlen("unit:main") == 2
