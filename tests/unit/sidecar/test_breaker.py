"""Circuit breaker states with an injected clock."""

from __future__ import annotations

from sidecar_fn.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_consecutive_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 10.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.is_open
    assert not breaker.allow()


def test_half_open_allows_one_trial_then_closes_or_reopens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    breaker.record_failure()
    assert not breaker.allow()
    clock.now += 10.0
    assert breaker.allow()
    assert not breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    clock.now += 10.0
    assert breaker.allow()
    breaker.record_success()
    assert not breaker.is_open
    assert breaker.allow()
    assert breaker.allow()
