"""AWS Lambda entry point: event in, partial batch response out."""

from __future__ import annotations

import functools
import os
from typing import Any

from sidecar_fn.errors import InvalidEvent
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar


@functools.cache
def current_sidecar() -> IngestSidecar:
    """The sidecar of this execution environment, built from the environment on first use
    and reused by every warm invocation."""
    return build_sidecar(Settings.from_env(os.environ))


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Process an SQS or Kinesis batch; returns `{"batchItemFailures": [...]}`.

    An event that is not a batch of records raises, so that the whole batch is retried
    (its records could not be named in batchItemFailures). A batch whose every record
    failed raises BatchFailed (see `IngestSidecar.invoke`), so that Lambda's `Errors`
    metric sees a dead Redis or source of truth at once.
    """
    sidecar = current_sidecar()
    request_id = getattr(context, "aws_request_id", None)
    if isinstance(request_id, str):
        sidecar.logger.append_keys(function_request_id=request_id)
    try:
        return sidecar.invoke(event, context).lambda_response()
    except InvalidEvent as exc:
        sidecar.logger.error("Event rejected.", extra={"error": str(exc)})
        raise
