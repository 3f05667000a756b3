"""Project exceptions raised by the sidecar's core and adapters."""

from __future__ import annotations


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
