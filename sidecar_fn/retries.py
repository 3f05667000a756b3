"""Retries of one call within a deadline: exponential back-off with full jitter, capped."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sidecar_fn.errors import SourceUnavailable

T = TypeVar("T")
MAX_BACKOFF_S = 1.0


class Retryable(Exception):
    """One failed attempt that another attempt may fix."""


def backoff_delay(
    attempt: int, base_s: float, jitter: float, cap_s: float = MAX_BACKOFF_S
) -> float:
    """The pause after failed attempt number `attempt` (1-based): full jitter in [0, 1) times
    `base_s * 2 ** (attempt - 1)`, never more than `cap_s`."""
    return jitter * min(cap_s, base_s * 2.0 ** (attempt - 1))


def retry_within(
    attempt: Callable[[float], T],
    *,
    deadline: float,
    per_attempt_s: float,
    max_attempts: int,
    backoff_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    jitter: Callable[[], float],
    what: str = "source of truth",
) -> T:
    """Call `attempt(timeout_s)` until it returns, retrying on Retryable.

    Each attempt gets at most `per_attempt_s` and never more than the time left before
    `deadline` (on `clock`). Raises SourceUnavailable when the attempts or the time run out;
    any other exception of `attempt` passes through.
    """
    tries = 0
    while True:
        tries += 1
        remaining = deadline - clock()
        if remaining <= 0:
            raise SourceUnavailable(f"{what} deadline reached after {tries - 1} attempt(s)")
        try:
            return attempt(min(per_attempt_s, remaining))
        except Retryable as exc:
            problem = str(exc)
        if tries >= max_attempts:
            raise SourceUnavailable(f"{what} failed {tries} attempt(s); last: {problem}")
        delay = backoff_delay(tries, backoff_s, jitter())
        if clock() + delay >= deadline:
            raise SourceUnavailable(
                f"{what} deadline reached after {tries} attempt(s); last: {problem}"
            )
        sleep(delay)
