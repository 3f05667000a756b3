"""Composition root, handler caching, EMF metrics output (no sockets)."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from redis.connection import SSLConnection

from sidecar_fn import handler as handler_module
from sidecar_fn.errors import InvalidEvent
from sidecar_fn.settings import Settings
from sidecar_fn.source_http import HttpSourceOfTruth
from sidecar_fn.telemetry import EmfMetrics, RecordLog, build_logger
from sidecar_fn.wiring import build_redis_client, build_sidecar

from .fakes import CapturedLogger


def values(emf_value: object) -> list[object]:
    return emf_value if isinstance(emf_value, list) else [emf_value]


@pytest.fixture
def cold_start() -> Iterator[None]:
    """The handler's cached sidecar dropped before and after the test, as at a cold start."""
    handler_module.current_sidecar.cache_clear()
    yield
    handler_module.current_sidecar.cache_clear()


@pytest.fixture
def emf_metrics(monkeypatch: pytest.MonkeyPatch) -> EmfMetrics:
    """EMF metrics switched on, printing to stdout (namespace AOS/Test, service svc)."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    return EmfMetrics(namespace="AOS/Test", service="svc")


def test_build_sidecar_makes_real_clients_without_connecting() -> None:
    sidecar = build_sidecar(Settings(source_id="w"))
    assert sidecar.source_id == "w"
    assert isinstance(sidecar.source, HttpSourceOfTruth)
    sidecar.source.close()


def test_rediss_url_builds_a_tls_client() -> None:
    client = build_redis_client(Settings(redis_url="rediss://cache.example:6380/0"))
    assert client.connection_pool.connection_class is SSLConnection
    plain = build_redis_client(Settings())
    assert plain.connection_pool.connection_class is not SSLConnection


@pytest.mark.usefixtures("cold_start")
def test_handler_builds_once_per_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOS_SOURCE_ID", "cold-start-src")
    first = handler_module.current_sidecar()
    assert first.source_id == "cold-start-src"
    monkeypatch.setenv("AOS_SOURCE_ID", "changed")
    assert handler_module.current_sidecar() is first


@pytest.mark.usefixtures("cold_start")
def test_handler_answers_empty_batch_without_io(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    assert handler_module.handler({"Records": []}, None) == {"batchItemFailures": []}


def test_emf_metrics_prints_one_document_per_batch(
    emf_metrics: EmfMetrics, capsys: pytest.CaptureFixture[str]
) -> None:
    emf_metrics.publish({"clean": 3, "repaired": 1})
    emf_metrics.publish({"clean": 2, "repaired": 0})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert values(first["clean"]) == [3]
    assert values(first["repaired"]) == [1]
    directive = first["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "AOS/Test"
    assert {m["Name"] for m in directive["Metrics"]} == {"clean", "repaired"}
    assert values(lines[1]["clean"]) == [2]


def test_emf_metrics_respect_powertools_switch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    EmfMetrics(namespace="AOS/Test", service="svc").publish({"clean": 1})
    assert capsys.readouterr().out == ""


def test_record_log_lines_have_the_powertools_shape_and_level() -> None:
    captured = CapturedLogger()
    captured.logger.append_keys(function_request_id="req-1")
    log = RecordLog(captured.logger)
    log.write(logging.INFO, "handle_batch", [("Record Repaired.", {"invoice_id": "INV-1"})])
    log.write(logging.DEBUG, "handle_batch", [("hidden", {})])
    [line] = captured.lines
    assert line["level"] == "INFO"
    assert line["location"] == "handle_batch"
    assert line["message"] == "Record Repaired."
    assert line["invoice_id"] == "INV-1"
    assert line["service"].startswith("test-")
    assert line["function_request_id"] == "req-1"
    assert "T" in line["timestamp"]
    assert "sampling_rate" not in line


def test_record_log_honours_a_raised_level() -> None:
    captured = CapturedLogger()
    captured.logger.setLevel("WARNING")
    log = RecordLog(captured.logger)
    log.write(logging.INFO, "x", [("Drift Detected for INV-1. Fetching repair...", {})])
    log.write(logging.WARNING, "x", [("Record Unrepairable.", {})])
    assert captured.messages() == ["Record Unrepairable."]


@pytest.mark.usefixtures("cold_start")
def test_handler_rejects_an_event_that_is_not_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with pytest.raises(InvalidEvent):
        handler_module.handler({"detail": "not records"}, None)


def test_emf_drift_per_field_has_the_field_dimension(
    emf_metrics: EmfMetrics, capsys: pytest.CaptureFixture[str]
) -> None:
    emf_metrics.publish_by_field("drift", {"vendor_id": 4, "status": 1})
    emf_metrics.publish({"clean": 1})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line.get("field"), values(line.get("drift", []))) for line in lines[:2]] == [
        ("vendor_id", [4]),
        ("status", [1]),
    ]
    assert sorted(lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["field", "service"]
    assert "field" not in lines[2]


def test_record_log_on_a_closed_stream_does_not_fail_the_batch() -> None:
    stream = io.StringIO()
    logger = build_logger(f"closed-{uuid.uuid4().hex[:8]}", stream=stream)
    stream.close()
    RecordLog(logger).write(logging.WARNING, "x", [("Record Unrepairable.", {})])
