"""AWS Lambda entry point: event in, partial batch response out."""

from __future__ import annotations

import functools
import os
from typing import Any

from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar


@functools.cache
def current_sidecar() -> IngestSidecar:
    """The sidecar of this execution environment, built from the environment on first use
    and reused by every warm invocation."""
    return build_sidecar(Settings.from_env(os.environ))


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Process an SQS or Kinesis batch; returns `{"batchItemFailures": [...]}`."""
    return current_sidecar().handle_batch(event, context).lambda_response()
