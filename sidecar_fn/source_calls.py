"""What the source-of-truth adapters share: one deadline per call, retries with back-off and
full jitter, a circuit breaker, chunks fetched concurrently, and capped, deadline-bound
body reads.

Exceptions an adapter meets here:

    SourceUnavailable        (sidecar_fn.errors) the call gives up: every caller sees this
    +-- QuotaExhausted       the source refused for its usage quota; the breaker is tripped
    Retryable                one failed attempt that another attempt may fix (internal)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from sidecar_fn.breaker import CircuitBreaker
from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.http_body import MAX_BODY_BYTES, ByteAllowance, error_code, read_body
from sidecar_fn.retries import Retryable, retry_within

T = TypeVar("T")
C = TypeVar("C")
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
__all__ = [
    "MAX_BODY_BYTES",
    "RETRYABLE_STATUS",
    "QuotaExhausted",
    "Retryable",
    "SourceCalls",
    "error_code",
]


class QuotaExhausted(SourceUnavailable):
    """The source refused because a usage quota is spent; retrying now cannot help."""


class SourceCalls:
    """Deadline, retries, breaker and concurrency for one adapter's calls."""

    def __init__(
        self,
        *,
        timeout_s: float = 2.0,
        max_attempts: int = 3,
        backoff_s: float = 0.05,
        concurrency: int = 4,
        default_budget_s: float = 10.0,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.concurrency = concurrency
        self.default_budget_s = default_budget_s
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def deadline(self, budget_s: float | None) -> float:
        """The monotonic deadline of a call given `budget_s` (the default when None)."""
        return self.clock() + (self.default_budget_s if budget_s is None else budget_s)

    def retry(self, attempt: Callable[[float], T], deadline: float, what: str) -> T:
        """Run `attempt(timeout_s)` until it returns, retrying a Retryable with exponential
        back-off and full jitter, within `max_attempts` and `deadline` (see retries)."""
        return retry_within(
            attempt,
            deadline=deadline,
            per_attempt_s=self.timeout_s,
            max_attempts=self.max_attempts,
            backoff_s=self.backoff_s,
            clock=self.clock,
            sleep=self._sleep,
            jitter=self._jitter,
            what=what,
        )

    def guarded(self, call: Callable[[], T]) -> T:
        """Run `call` through the breaker: refused while open; a failure counts, a spent
        quota trips it at once, a success closes it."""
        if not self.breaker.allow():
            raise SourceUnavailable("source of truth circuit is open after repeated failures")
        try:
            result = call()
        except QuotaExhausted:
            self.breaker.trip()
            raise
        except SourceUnavailable:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return result

    def run_chunks(
        self, chunks: Sequence[C], fetch: Callable[[C], Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Fetch every chunk (concurrently when more than one), each through the breaker;
        the merged answers of those that succeeded. Raises the first error when none did."""

        def one(chunk: C) -> Mapping[str, Any] | SourceUnavailable:
            try:
                return self.guarded(lambda: fetch(chunk))
            except SourceUnavailable as exc:
                return exc

        if len(chunks) <= 1 or self.concurrency == 1:
            outcomes = [one(chunk) for chunk in chunks]
        else:
            outcomes = list(self._executor().map(one, chunks))
        errors = [outcome for outcome in outcomes if isinstance(outcome, SourceUnavailable)]
        if outcomes and len(errors) == len(outcomes):
            raise errors[0]
        merged: dict[str, Any] = {}
        for outcome in outcomes:
            if not isinstance(outcome, SourceUnavailable):
                merged.update(outcome)
        return merged

    def read_body(
        self,
        response: httpx.Response,
        deadline: float,
        max_bytes: int = MAX_BODY_BYTES,
        allowance: ByteAllowance | None = None,
    ) -> bytes:
        """The body of a streamed response as sent, refused when encoded, past `max_bytes`,
        past what `allowance` (the call's, else this answer's own) has left, or past the
        deadline: httpx's timeouts bound each socket read, not a source that drips its
        answer (see http_body)."""
        return read_body(
            response,
            allowance=allowance if allowance is not None else ByteAllowance(max_bytes),
            deadline=deadline,
            clock=self.clock,
            max_bytes=max_bytes,
        )

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix="sot"
                )
            return self._pool

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
