"""The batch path per drift kind: local repairs, meta.repairs, verification, unexpected fields."""

from __future__ import annotations

from typing import Any

import fakeredis
import orjson
import pytest

from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar

from .conftest import SidecarWith
from .fakes import CapturedLogger, FakeSource, pristine
from .test_batch import envelopes, sqs


def make(sidecar_with: SidecarWith, verify_share: float) -> IngestSidecar:
    return sidecar_with(
        Settings(
            source_id="unit-src",
            stream="unit:main",
            dlq_stream="unit:dlq",
            verify_share=verify_share,
        )
    )


def record(invoice_id: str = "INV-7", **change: Any) -> bytes:
    value = pristine(invoice_id)
    for name, new in change.items():
        if new is ...:
            del value[name]
        else:
            value[name] = new
    return orjson.dumps(value)


LOCAL_CASES = [
    ({"vendor_id": ..., "vendorId": "VEND-0007"}, "vendor_id", "renamed", "renamed:vendorId"),
    ({"vendor_id": ..., "VendorID": "VEND-0007"}, "vendor_id", "renamed", "renamed:VendorID"),
    (
        {"vendor_id": ..., "vendor": {"id": "VEND-0007"}},
        "vendor_id",
        "renamed",
        "renamed:vendor.id",
    ),
    ({"total_amount": "8.75"}, "total_amount", "wrong_type", "coerced:string"),
    ({"status": "approved"}, "status", "case", "case"),
]
SOURCE_CASES = [
    ({"vendor_id": ...}, "vendor_id", "missing"),
    ({"vendor_id": None}, "vendor_id", "null"),
    ({"vendor_id": ""}, "vendor_id", "empty"),
    ({"status": ""}, "status", "empty"),
    ({"total_amount": "8.75 EUR"}, "total_amount", "wrong_type"),
    ({"status": "LOST"}, "status", "invalid"),
]


@pytest.mark.parametrize(("change", "field", "kind", "how"), LOCAL_CASES)
def test_certain_drift_is_repaired_without_the_source(
    change: dict[str, Any],
    field: str,
    kind: str,
    how: str,
    fake_redis: fakeredis.FakeRedis,
    source: FakeSource,
    captured: CapturedLogger,
    sidecar_with: SidecarWith,
) -> None:
    sidecar = make(sidecar_with, verify_share=0.0)
    report = sidecar.handle_batch(sqs(record(**change)))
    assert report.outcomes == {"m0": "repaired"}
    assert source.calls == []
    [envelope] = envelopes(fake_redis)
    assert envelope["payload"] == pristine("INV-7")
    meta = envelope["meta"]
    assert meta["repairs"] == {field: how}
    assert meta["drift_kinds"] == {field: kind}
    assert (meta["drifted_fields"], meta["repaired_fields"]) == ([field], [field])
    assert meta["is_repaired"] is True and meta["repair_source"] == "local"
    assert report.drift.kinds == {kind: 1}
    assert report.drift.repaired_locally == 1 and report.drift.source_lookups == 0
    assert "Drift Detected for INV-7. Repaired locally." in captured.messages()
    assert "Record Repaired." in captured.messages()


@pytest.mark.parametrize(("change", "field", "kind"), SOURCE_CASES)
def test_uncertain_drift_is_repaired_from_the_source(
    change: dict[str, Any],
    field: str,
    kind: str,
    fake_redis: fakeredis.FakeRedis,
    source: FakeSource,
    sidecar_with: SidecarWith,
) -> None:
    sidecar = make(sidecar_with, verify_share=0.0)
    report = sidecar.handle_batch(sqs(record(**change)))
    assert report.outcomes == {"m0": "repaired"}
    assert source.calls == [(["INV-7"], pytest.approx(10.0, abs=1))]
    [envelope] = envelopes(fake_redis)
    assert envelope["payload"] == pristine("INV-7")
    assert envelope["meta"]["repairs"] == {field: "source_of_truth"}
    assert envelope["meta"]["drift_kinds"] == {field: kind}
    assert envelope["meta"]["repair_source"] == "salesforce"
    assert report.drift.fields == {field: {kind: 1}}


def test_several_kinds_in_one_record(
    fake_redis: fakeredis.FakeRedis, sidecar_with: SidecarWith
) -> None:
    sidecar = make(sidecar_with, verify_share=0.0)
    raw = record(vendor_id=..., vendorId="VEND-0007", status="Approved", total_amount=None)
    sidecar.handle_batch(sqs(raw))
    [envelope] = envelopes(fake_redis)
    assert envelope["payload"] == pristine("INV-7")
    assert envelope["meta"]["repairs"] == {
        "vendor_id": "renamed:vendorId",
        "status": "case",
        "total_amount": "source_of_truth",
    }
    assert envelope["meta"]["repair_source"] == "salesforce"


def test_every_local_repair_is_verified_at_share_one(
    fake_redis: fakeredis.FakeRedis, source: FakeSource, sidecar_with: SidecarWith
) -> None:
    sidecar = make(sidecar_with, verify_share=1.0)
    report = sidecar.handle_batch(
        sqs(record(status="approved"), record("INV-8", total_amount="10"))
    )
    assert source.calls and sorted(source.calls[0][0]) == ["INV-7", "INV-8"]
    assert report.drift.verified == 2 and report.drift.verify_disagreements == 0
    assert report.drift.repaired_locally == 0 and report.drift.source_lookups == 2
    assert {e["meta"]["repair_source"] for e in envelopes(fake_redis)} == {"local"}


def test_a_disagreement_takes_the_source_value_and_switches_the_field_off(
    fake_redis: fakeredis.FakeRedis,
    source: FakeSource,
    captured: CapturedLogger,
    sidecar_with: SidecarWith,
) -> None:
    sidecar = make(sidecar_with, verify_share=1.0)
    truth = pristine("INV-7")
    source.overrides["INV-7"] = {**truth, "total_amount": 875}
    report = sidecar.handle_batch(sqs(record(total_amount="8.75")))
    [envelope] = envelopes(fake_redis)
    assert envelope["payload"]["total_amount"] == 875
    assert envelope["meta"]["repairs"] == {"total_amount": "source_of_truth"}
    assert report.drift.verify_disagreements == 1
    [line] = [x for x in captured.lines if x["message"].startswith("Local repair disagrees")]
    assert (line["field"], line["local_value"], line["source_value"]) == ("total_amount", 8.75, 875)
    assert line["level"] == "WARNING"

    report = sidecar.handle_batch(
        sqs(record("INV-8", total_amount="10", status="paid"), prefix="n")
    )
    meta = envelopes(fake_redis)[-1]["meta"]
    assert meta["repairs"] == {"total_amount": "source_of_truth", "status": "case"}
    assert report.drift.verify_disagreements == 0


def test_verification_that_cannot_happen_keeps_the_local_repair(
    source: FakeSource, sidecar_with: SidecarWith
) -> None:
    sidecar = make(sidecar_with, verify_share=1.0)
    source.unanswered = {"INV-7"}
    report = sidecar.handle_batch(sqs(record(status="approved")))
    assert report.outcomes == {"m0": "repaired"}
    assert report.drift.verified == 0


def test_unexpected_fields_stay_and_are_reported(
    fake_redis: fakeredis.FakeRedis, captured: CapturedLogger, sidecar_with: SidecarWith
) -> None:
    sidecar = make(sidecar_with, verify_share=0.0)
    clean = orjson.dumps({**pristine("INV-7"), "po_number": "PO-1"})
    renamed = orjson.dumps({**pristine("INV-8"), "billingAddress": {"city": "X"}, "vendorRef": "Y"})
    report = sidecar.handle_batch(sqs(clean, renamed))
    assert report.counts["clean"] == 2
    assert report.drift.unexpected == {"po_number": 1, "billingAddress": 1, "vendorRef": 1}
    payloads = [e["payload"] for e in envelopes(fake_redis)]
    assert payloads[0]["po_number"] == "PO-1" and payloads[1]["vendorRef"] == "Y"
    [line] = [x for x in captured.lines if x["message"] == "Unexpected fields."]
    assert line["fields"] == {"po_number": 1, "billingAddress": 1, "vendorRef": 1}


def test_single_record_api_repairs_locally(source: FakeSource, sidecar_with: SidecarWith) -> None:
    sidecar = make(sidecar_with, verify_share=0.0)
    value = orjson.loads(record(vendor_id=..., vendorId="VEND-0007", status="aPPROVED"))
    assert sidecar.detect_drift(value)
    assert sidecar.repair_record(value) == pristine("INV-7")
    assert source.calls == []
    assert sidecar.repair_record(orjson.loads(record(vendor_id=""))) == pristine("INV-7")
    assert len(source.calls) == 1
