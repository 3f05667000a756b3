"""Structured JSON logging and per-batch CloudWatch EMF metrics via Powertools."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled


def _dumps(document: dict[str, Any]) -> str:
    return orjson.dumps(document, default=str).decode()


def build_logger(service: str) -> Logger:
    """A Powertools JSON logger (level from POWERTOOLS_LOG_LEVEL, INFO by default)."""
    return Logger(service=service, json_serializer=_dumps, use_rfc3339=True)


class EmfMetrics:
    """MetricsSink that prints one EMF document per batch (unless Powertools metrics are
    disabled by POWERTOOLS_METRICS_DISABLED / POWERTOOLS_DEV)."""

    def __init__(self, *, namespace: str, service: str) -> None:
        self._metrics = Metrics(namespace=namespace, service=service)
        self._enabled = not is_metrics_disabled()

    def publish(self, counts: Mapping[str, int]) -> None:
        """Emit the batch's counters as one EMF JSON line on stdout."""
        if not self._enabled:
            return
        for name, value in counts.items():
            self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        self._metrics.flush_metrics()


class NullMetrics:
    """MetricsSink that drops everything."""

    def publish(self, counts: Mapping[str, int]) -> None:
        """Ignore the counters."""
