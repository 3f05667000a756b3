"""What the source-of-truth adapters share: one deadline and one byte allowance per call,
retries (retries.retry_within), a circuit breaker, and chunks fetched concurrently.

Exceptions an adapter meets here:

    SourceUnavailable        (sidecar_fn.errors) the call gives up: every caller sees this
    +-- QuotaExhausted       the source refused for a spent usage quota; the breaker trips
    Retryable                (sidecar_fn.retries) one failed attempt another may fix
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

from sidecar_fn.breaker import CircuitBreaker
from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.http_body import MAX_CALL_BYTES, ByteAllowance
from sidecar_fn.retries import retry_within

T = TypeVar("T")
C = TypeVar("C")
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class QuotaExhausted(SourceUnavailable):
    """The source refused because a usage quota is spent; retrying now cannot help."""


class CallScope(NamedTuple):
    """The bounds of one fetch_many: its deadline (on the calls' clock) and byte allowance."""

    deadline: float
    allowance: ByteAllowance


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
        max_call_bytes: int = MAX_CALL_BYTES,
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
        self.max_call_bytes = max_call_bytes
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self.clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._last_failure = ""
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def scope(self, budget_s: float | None) -> CallScope:
        """The bounds of a call given `budget_s` (the default budget when None)."""
        budget = self.default_budget_s if budget_s is None else budget_s
        return CallScope(self.clock() + budget, ByteAllowance(self.max_call_bytes))

    def retry(self, attempt: Callable[[float], T], deadline: float, what: str) -> T:
        """`attempt(timeout_s)` retried on Retryable within `max_attempts` and `deadline`."""
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
        """Run `call` through the breaker: refused while open (naming the last failure); a
        failure counts, a spent quota trips it at once, a success closes it."""
        if not self.breaker.allow():
            raise SourceUnavailable(
                "source of truth circuit is open after repeated failures"
                + (f" (last: {self._last_failure})" if self._last_failure else "")
            )
        try:
            result = call()
        except QuotaExhausted as exc:
            self._last_failure = str(exc)
            self.breaker.trip()
            raise
        except SourceUnavailable as exc:
            self._last_failure = str(exc)
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
