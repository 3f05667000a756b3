"""A stand-in for the Lambda context object, with a real invocation deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from local.events import ACCOUNT, REGION

FUNCTION_NAME = "aos-sidecar-local"


class LambdaContext:
    """What Lambda passes as `context`: names, memory, request id and remaining time."""

    def __init__(
        self,
        *,
        timeout_ms: int = 30_000,
        function_name: str = FUNCTION_NAME,
        memory_limit_in_mb: int = 1024,
        aws_request_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/[$LATEST]{self.aws_request_id.replace('-', '')}"
        self._clock = clock
        self._deadline = clock() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation would time out (never negative)."""
        return max(0, int((self._deadline - self._clock()) * 1000))
