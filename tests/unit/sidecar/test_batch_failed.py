"""A batch whose every record failed raises BatchFailed from the handler, after the response."""

from __future__ import annotations

from typing import Any

import fakeredis
import orjson
import pytest

from sidecar_fn import handler as handler_module
from sidecar_fn.errors import BatchFailed, SourceUnavailable
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar

from .fakes import CapturedLogger, FakeSource, RecordingMetrics, pristine


def sqs(*records: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"m{n}", "body": orjson.dumps(record).decode(), "eventSource": "aws:sqs"}
            for n, record in enumerate(records)
        ]
    }


def drifted(invoice_id: str) -> dict[str, Any]:
    record = pristine(invoice_id)
    del record["vendor_id"]
    return record


def test_redis_down_raises_after_building_a_response_that_lists_every_record(
    settings: Settings, source: FakeSource, metrics: RecordingMetrics, captured: CapturedLogger
) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    sidecar = build_sidecar(
        settings,
        redis_client=fakeredis.FakeRedis(server=server),
        source=source,
        metrics=metrics,
        logger=captured.logger,
    )
    event = sqs(pristine("INV-1"), drifted("INV-2"), pristine("INV-3"))

    with pytest.raises(BatchFailed) as raised:
        sidecar.invoke(event)

    assert raised.value.response == {
        "batchItemFailures": [{"itemIdentifier": f"m{n}"} for n in range(3)]
    }
    assert raised.value.report.counts["failed"] == 3
    assert "3 handed back" in str(raised.value)
    assert "Redis write failed" in str(raised.value)
    assert metrics.published[-1]["failed"] == 3
    assert "Every record of the batch failed" in " ".join(captured.messages())


def test_source_of_truth_down_with_only_drifted_records_raises(
    sidecar: IngestSidecar, source: FakeSource, fake_redis: fakeredis.FakeRedis
) -> None:
    source.error = SourceUnavailable("503 from the source of truth")

    with pytest.raises(BatchFailed, match="503 from the source of truth"):
        sidecar.invoke(sqs(drifted("INV-2"), drifted("INV-4")))

    assert fake_redis.xlen("unit:main") == 0


def test_one_record_finished_means_a_partial_response_not_an_error(
    sidecar: IngestSidecar, source: FakeSource, fake_redis: fakeredis.FakeRedis
) -> None:
    source.error = SourceUnavailable("503 from the source of truth")

    report = sidecar.invoke(sqs(drifted("INV-2"), pristine("INV-3")))

    assert report.lambda_response() == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert fake_redis.xlen("unit:main") == 1


def test_records_already_recorded_are_not_failures(
    sidecar: IngestSidecar, source: FakeSource
) -> None:
    event = sqs(pristine("INV-1"))
    sidecar.invoke(event)
    source.error = SourceUnavailable("down")

    assert sidecar.invoke(event).lambda_response() == {"batchItemFailures": []}


def test_an_empty_batch_is_not_an_error(sidecar: IngestSidecar) -> None:
    assert sidecar.invoke({"Records": []}).lambda_response() == {"batchItemFailures": []}


def test_the_lambda_handler_raises_it(
    monkeypatch: pytest.MonkeyPatch, sidecar: IngestSidecar, source: FakeSource
) -> None:
    source.error = SourceUnavailable("down")
    monkeypatch.setattr(handler_module, "current_sidecar", lambda: sidecar)

    with pytest.raises(BatchFailed):
        handler_module.handler(sqs(drifted("INV-7")), None)
