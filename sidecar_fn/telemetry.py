"""Structured JSON logging and per-batch CloudWatch EMF metrics via Powertools."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled


def _dumps(document: dict[str, Any]) -> str:
    return orjson.dumps(document, default=str).decode()


def build_logger(service: str, *, stream: IO[str] | None = None) -> Logger:
    """A Powertools JSON logger (level from POWERTOOLS_LOG_LEVEL, INFO by default) writing
    to `stream` (Powertools' default, stdout, when None)."""
    return Logger(service=service, json_serializer=_dumps, use_rfc3339=True, stream=stream)


LogLine = tuple[str, dict[str, Any]]


class RecordLog:
    """Per-record log lines of a batch, in the Powertools logger's JSON shape and stream.

    Powertools' formatter costs tens of microseconds a line; a batch with a hundred drifted
    records would spend more time logging than repairing. These lines carry the same keys
    (level, location, message, timestamp, service, appended keys, extras), are serialised
    with orjson and written with one write per call, honouring the logger's level.
    """

    def __init__(self, logger: Logger) -> None:
        self._logger = logger
        self._std = logging.getLogger(logger.name)

    def enabled(self, level: int) -> bool:
        """True when lines of `level` would be written."""
        return self._std.isEnabledFor(level)

    def write(self, level: int, location: str, lines: Sequence[LogLine]) -> None:
        """Write `(message, extra)` lines at `level`, stamped now."""
        if not lines or not self.enabled(level):
            return
        handler = self._logger.registered_handler
        stream = getattr(handler, "stream", None)
        if stream is None:
            for message, extra in lines:
                self._std.log(level, message, extra=extra)
            return
        base: dict[str, Any] = {
            "level": logging.getLevelName(level),
            "location": location,
            "message": "",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        for key, value in self._logger.get_current_keys().items():
            placeholder = isinstance(value, str) and "%(" in value
            if value is not None and key not in base and not placeholder:
                base[key] = value
        dumps = orjson.dumps
        text = b"\n".join(
            dumps({**base, "message": message, **extra}, default=str) for message, extra in lines
        ).decode()
        handler.acquire()
        try:
            stream.write(text + "\n")
            stream.flush()
        except (OSError, ValueError):
            # As logging.Handler.handleError does: a log line that cannot be written (a
            # closed or broken stream) never fails the batch it describes.
            pass
        finally:
            handler.release()


class EmfMetrics:
    """MetricsSink that prints one EMF document per batch (unless Powertools metrics are
    disabled by POWERTOOLS_METRICS_DISABLED / POWERTOOLS_DEV)."""

    def __init__(self, *, namespace: str, service: str) -> None:
        self._metrics = Metrics(namespace=namespace, service=service)
        self._enabled = not is_metrics_disabled()
        self._lock = threading.Lock()

    def publish(self, counts: Mapping[str, int]) -> None:
        """Emit the batch's counters as one EMF JSON line on stdout."""
        if not self._enabled:
            return
        with self._lock:
            for name, value in counts.items():
                self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            self._metrics.flush_metrics()

    def publish_by_field(self, metric: str, counts: Mapping[str, int]) -> None:
        """Emit one EMF document per field, `metric` with dimension `field` (so that
        CloudWatch graphs, say, drift of `vendor_id` apart from drift of `status`)."""
        if not self._enabled or not counts:
            return
        with self._lock:
            for name, value in counts.items():
                self._metrics.add_dimension(name="field", value=name)
                self._metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
                self._metrics.flush_metrics()


class NullMetrics:
    """MetricsSink that drops everything."""

    def publish(self, counts: Mapping[str, int]) -> None:
        """Ignore the counters."""

    def publish_by_field(self, metric: str, counts: Mapping[str, int]) -> None:
        """Ignore the counters."""
