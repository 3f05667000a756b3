"""The runner's FIFO delivery: message groups from a record field, order kept on redelivery."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import fakeredis
import pytest
from runner_fakes import FakeCheckpoints

from local.cli import main
from local.emulator import Emulator, EmulatorSettings
from local.events import UNGROUPED, EventFactory, StreamRecord
from local.summary import RunTotals
from sidecar_fn.settings import Settings
from sidecar_fn.wiring import build_sidecar
from tests.unit.sidecar.fakes import CapturedLogger, FakeSource, RecordingMetrics, pristine


class FirstCallFails(FakeSource):
    """A source of truth that cannot answer `id` on its first request for it."""

    def __init__(self, invoice_id: str) -> None:
        super().__init__()
        self.unanswered.add(invoice_id)

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, Mapping[str, Any] | None]:
        answer = super().fetch_many(ids, budget_s=budget_s)
        self.unanswered.clear()
        return answer


def record(sequence: int, body: Any) -> StreamRecord:
    return StreamRecord(sequence, body if isinstance(body, str) else json.dumps(body))


def test_fifo_events_carry_the_group_fields_value_as_message_group() -> None:
    factory = EventFactory("sqs", seed=1, chaos=True, fifo_group_field="vendor_id")
    event = factory.build(
        [record(0, {"vendor_id": "V-1"}), record(1, {"vendor_id": 7}), record(2, "not json")],
        attempt=1,
        now_ms=0,
    )
    attributes = [r["attributes"] for r in event["Records"]]
    assert [a["MessageGroupId"] for a in attributes] == ["V-1", "7", UNGROUPED]
    assert [a["SequenceNumber"] for a in attributes] == sorted(
        a["SequenceNumber"] for a in attributes
    )


def test_standard_events_carry_no_message_group() -> None:
    event = EventFactory("sqs", seed=1, chaos=True).build([record(0, {})], attempt=1, now_ms=0)
    assert "MessageGroupId" not in event["Records"][0]["attributes"]


def test_fifo_with_kinesis_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--fifo", "--event-source", "kinesis"])
    assert info.value.code == 2
    assert "--fifo emulates an SQS FIFO queue" in capsys.readouterr().err


@pytest.mark.parametrize("group_field", ["invoice_id", None])
def test_redelivery_keeps_each_groups_order_only_with_fifo(group_field: str | None) -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    sidecar = build_sidecar(
        Settings(source_id="fifo", stream="fifo:main", dlq_stream="fifo:dlq"),
        redis_client=client,
        source=FirstCallFails("INV-2"),
        metrics=RecordingMetrics(),
        logger=CapturedLogger().logger,
    )
    first = pristine("INV-2")
    del first["total_amount"]
    second = {**pristine("INV-2"), "status": "PAID", "last_modified": "2025-02-01T00:00:00Z"}
    batch = [record(0, first), record(1, pristine("INV-1")), record(2, second)]
    emulator = Emulator(
        sidecar,
        EventFactory("sqs", seed=0, chaos=True, fifo_group_field=group_field),
        FakeCheckpoints(),
        settings=EmulatorSettings(batch_size=10, max_attempts=3),
        sleep=lambda _: None,
    )

    totals = emulator.run(batch, RunTotals())

    written = [json.loads(f[b"envelope"])["payload"] for _, f in client.xrange("fifo:main")]
    versions = [p["last_modified"] for p in written if p["invoice_id"] == "INV-2"]
    in_order = ["2025-01-02T00:00:00Z", "2025-02-01T00:00:00Z"]
    assert versions == (in_order if group_field else in_order[::-1])
    assert totals.retries == (2 if group_field else 1)
    assert len(written) == 3
