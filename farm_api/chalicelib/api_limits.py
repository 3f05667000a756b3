"""Daily API request allowance: every data call counts; past the limit, 403.

The window is a fixed 24 hours from the first counted call (Salesforce's is a rolling
24 hours). The count lives in this process, like the sessions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chalicelib.errors import FarmError

DAY_S = 86_400.0
HEADER = "Sforce-Limit-Info"


def request_limit_exceeded(limit: int) -> FarmError:
    """403 REQUEST_LIMIT_EXCEEDED."""
    return FarmError(
        403, "REQUEST_LIMIT_EXCEEDED", f"TotalRequests Limit exceeded (daily limit {limit})."
    )


class ApiUsage:
    """Calls counted in the current 24-hour window against `limit`."""

    def __init__(self, limit: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._used = 0
        self._window_start: float | None = None

    def _roll(self) -> None:
        now = self._clock()
        if self._window_start is None or now - self._window_start >= DAY_S:
            self._window_start = now
            self._used = 0

    def count(self) -> None:
        """Count one call; FarmError 403 REQUEST_LIMIT_EXCEEDED when none is left."""
        with self._lock:
            self._roll()
            if self._used >= self.limit:
                raise request_limit_exceeded(self.limit)
            self._used += 1

    @property
    def used(self) -> int:
        """Calls counted in the current window."""
        with self._lock:
            self._roll()
            return self._used

    def header(self) -> str:
        """The `Sforce-Limit-Info` value: `api-usage=N/LIMIT`."""
        return f"api-usage={self.used}/{self.limit}"
