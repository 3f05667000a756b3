"""Fault injection for the source of truth: added latency and a share of 503 answers."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from chalicelib.errors import server_unavailable


class FaultInjector:
    """Delays each source-of-truth request and fails `failure_rate` of them with 503."""

    def __init__(
        self,
        failure_rate: float,
        latency_ms: int,
        *,
        roll: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.failure_rate = failure_rate
        self.latency_ms = latency_ms
        self._roll = roll if roll is not None else random.SystemRandom().random
        self._sleep = sleep

    def apply(self) -> None:
        """Sleep the configured latency, then raise FarmError 503 for the failing share."""
        if self.latency_ms > 0:
            self._sleep(self.latency_ms / 1000)
        if self.failure_rate > 0 and self._roll() < self.failure_rate:
            raise server_unavailable()
