"""httpx adapter for the source of truth's batch route, with retries, deadline and breaker."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

from sidecar_fn.breaker import CircuitBreaker
from sidecar_fn.drift import valid_invoice_id
from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.ports import SourceRecord
from sidecar_fn.schema import ID_FIELD

BATCH_PATH = "/api/source/salesforce/invoices"
MAX_IDS_PER_REQUEST = 200
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_BACKOFF_S = 1.0
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class _Retryable(Exception):
    """One failed attempt that another attempt may fix."""


def _error_code(body: bytes) -> str | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, list) and document and isinstance(document[0], Mapping):
        code = document[0].get("errorCode")
        return code if isinstance(code, str) else None
    return None


class HttpSourceOfTruth:
    """SourceOfTruth over HTTP: `GET /api/source/salesforce/invoices?ids=...`.

    Ids are validated before they reach a URL, sent in chunks of at most 200 fetched
    concurrently, each chunk retried with exponential backoff and full jitter on
    timeouts, connection errors, 5xx, 429 and 403 REQUEST_LIMIT_EXCEEDED, all within the
    call's budget. Redirects are never followed. A body that is not the aligned array of
    the ids asked for is refused. Every failure becomes SourceUnavailable; a circuit
    breaker refuses calls for a while after repeated failures.
    """

    name = "salesforce"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 2.0,
        max_attempts: int = 3,
        backoff_s: float = 0.05,
        chunk_size: int = MAX_IDS_PER_REQUEST,
        concurrency: int = 4,
        keepalive: bool = False,
        default_budget_s: float = 10.0,
        breaker: CircuitBreaker | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if not 1 <= chunk_size <= MAX_IDS_PER_REQUEST:
            raise ValueError(f"chunk_size must be 1..{MAX_IDS_PER_REQUEST}")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if not keepalive:
            headers["Connection"] = "close"
        self._client = httpx.Client(
            headers=headers,
            follow_redirects=False,
            timeout=timeout_s,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max(concurrency, 1) * 2,
                max_keepalive_connections=max(concurrency, 1) if keepalive else 0,
            ),
        )
        self._batch_url = f"{base_url.rstrip('/')}{BATCH_PATH}?ids="
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._chunk_size = chunk_size
        self._concurrency = concurrency
        self._default_budget_s = default_budget_s
        self._breaker = breaker if breaker is not None else CircuitBreaker()
        self._last_failure = ""
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker guarding this source."""
        return self._breaker

    def close(self) -> None:
        """Close connections and worker threads."""
        self._client.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, SourceRecord | None]:
        """See SourceOfTruth.fetch_many. Invalid ids answer None without a request."""
        result: dict[str, SourceRecord | None] = {}
        wanted: list[str] = []
        for invoice_id in dict.fromkeys(ids):
            if valid_invoice_id(invoice_id):
                wanted.append(invoice_id)
            else:
                result[invoice_id] = None
        if not wanted:
            return result
        budget = self._default_budget_s if budget_s is None else budget_s
        deadline = self._clock() + budget
        chunks = [wanted[i : i + self._chunk_size] for i in range(0, len(wanted), self._chunk_size)]
        if len(chunks) == 1 or self._concurrency == 1:
            outcomes = [self._guarded(chunk, deadline) for chunk in chunks]
        else:
            outcomes = list(self._executor().map(lambda c: self._guarded(c, deadline), chunks))
        errors = [outcome for outcome in outcomes if isinstance(outcome, SourceUnavailable)]
        if len(errors) == len(outcomes):
            raise errors[0]
        for outcome in outcomes:
            if not isinstance(outcome, SourceUnavailable):
                result.update(outcome)
        return result

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._concurrency, thread_name_prefix="sot"
                )
            return self._pool

    def _guarded(
        self, chunk: list[str], deadline: float
    ) -> dict[str, SourceRecord | None] | SourceUnavailable:
        if not self._breaker.allow():
            return SourceUnavailable(
                "source of truth circuit is open after repeated failures"
                + (f" (last: {self._last_failure})" if self._last_failure else "")
            )
        try:
            records = self._fetch_chunk(chunk, deadline)
        except SourceUnavailable as exc:
            self._last_failure = str(exc)
            self._breaker.record_failure()
            return exc
        self._breaker.record_success()
        return records

    def _fetch_chunk(self, chunk: list[str], deadline: float) -> dict[str, SourceRecord | None]:
        url = self._batch_url + ",".join(chunk)
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise SourceUnavailable(
                    f"source of truth deadline reached after {attempt - 1} attempt(s)"
                )
            try:
                return self._attempt(url, chunk, min(self._timeout_s, remaining), deadline)
            except _Retryable as exc:
                problem = str(exc)
            if attempt >= self._max_attempts:
                raise SourceUnavailable(
                    f"source of truth failed {attempt} attempt(s); last: {problem}"
                )
            delay = self._jitter() * min(MAX_BACKOFF_S, self._backoff_s * 2 ** (attempt - 1))
            if self._clock() + delay >= deadline:
                raise SourceUnavailable(
                    f"source of truth deadline reached after {attempt} attempt(s); last: {problem}"
                )
            self._sleep(delay)

    def _attempt(
        self, url: str, chunk: list[str], timeout_s: float, deadline: float
    ) -> dict[str, Any]:
        """One request. httpx's timeouts bound each socket operation, not the whole answer,
        so the deadline is also checked as the body arrives: a source that drips its answer
        cannot hold the batch past it."""
        try:
            with self._client.stream("GET", url, timeout=timeout_s) as response:
                body = bytearray()
                for part in response.iter_bytes():
                    body += part
                    if len(body) > MAX_BODY_BYTES:
                        raise SourceUnavailable(
                            f"source of truth answer exceeds {MAX_BODY_BYTES} bytes"
                        )
                    if self._clock() >= deadline:
                        raise SourceUnavailable(
                            "source of truth deadline reached while its answer was arriving"
                        )
                status = response.status_code
                location = response.headers.get("location", "")
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"source of truth request failed: {exc}") from exc
        if 300 <= status < 400:
            raise SourceUnavailable(
                f"source of truth answered {status}; not following {location!r}"
            )
        if status != 200:
            code = _error_code(bytes(body))
            detail = f"HTTP {status}" + (f" {code}" if code else "")
            if status in RETRYABLE_STATUS or status >= 500 or code == "REQUEST_LIMIT_EXCEEDED":
                raise _Retryable(detail)
            raise SourceUnavailable(f"source of truth refused the request: {detail}")
        return self._decode(bytes(body), chunk)

    @staticmethod
    def _decode(body: bytes, chunk: list[str]) -> dict[str, Any]:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _Retryable(f"source of truth answer is not JSON ({exc})") from exc
        if not isinstance(document, list) or len(document) != len(chunk):
            raise _Retryable("source of truth answer is not an array aligned with the ids")
        records: dict[str, Any] = {}
        for invoice_id, record in zip(chunk, document, strict=True):
            if record is None:
                records[invoice_id] = None
            elif isinstance(record, dict) and record.get(ID_FIELD) == invoice_id:
                records[invoice_id] = record
            else:
                got = record.get(ID_FIELD) if isinstance(record, dict) else type(record).__name__
                raise _Retryable(f"source of truth answered {got!r} for {invoice_id}; refused")
        return records
