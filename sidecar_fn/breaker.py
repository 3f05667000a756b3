"""A thread-safe consecutive-failure circuit breaker with a half-open trial."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `reset_after_s` lets one trial call
    through (half-open): its success closes the circuit, its failure opens it again."""

    def __init__(
        self,
        threshold: int = 5,
        reset_after_s: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = threshold
        self._reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        """True while calls are refused (a half-open trial being in flight counts as open)."""
        with self._lock:
            return self._opened_at is not None and (
                self._clock() - self._opened_at < self._reset_after_s
            )

    def allow(self) -> bool:
        """True when a call may go ahead now; a True in the half-open state is the trial."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at >= self._reset_after_s:
                self._opened_at = self._clock()
                return True
            return False

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def trip(self) -> None:
        """Open the circuit now, whatever the count: the source said to stop (a spent quota)."""
        with self._lock:
            self._failures = max(self._failures, self._threshold)
            self._opened_at = self._clock()

    def record_failure(self) -> None:
        """A call failed after its retries: count it, open the circuit at the threshold."""
        with self._lock:
            self._failures += 1
            if self._failures >= self._threshold:
                self._opened_at = self._clock()
