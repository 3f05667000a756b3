"""Project exceptions raised by the sidecar's core and adapters."""

from __future__ import annotations

from typing import Any


class SidecarError(Exception):
    """Base class of every error the sidecar raises on purpose."""


class SettingsError(SidecarError):
    """The environment holds an invalid setting."""


class SchemaError(SidecarError):
    """The schema file cannot be read or declares something unsupported."""


class InvalidEvent(SidecarError):
    """The Lambda event is not a batch of SQS or Kinesis records."""


class Unrepairable(SidecarError):
    """A drifted record that the source of truth cannot complete."""


class SourceUnavailable(SidecarError):
    """The source of truth could not answer now (down, slow, refusing or garbled)."""


class SinkUnavailable(SidecarError):
    """Redis could not take the batch now; nothing of it may be assumed written."""


class BatchFailed(SidecarError):
    """Every record of an invocation was handed back (Redis or the source of truth down).

    Raised after the partial batch response is built, as Powertools' batch processor does,
    so that Lambda counts an error; `report` is the batch's report and `response` the
    partial batch response that lists every record.
    """

    def __init__(self, report: Any, response: dict[str, list[dict[str, str]]], detail: str):
        failed = len(response.get("batchItemFailures", []))
        super().__init__(f"every record of the batch failed ({failed} handed back): {detail}")
        self.report = report
        self.response = response
