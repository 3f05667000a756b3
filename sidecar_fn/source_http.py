"""httpx adapter for the source of truth's batch route, with retries, deadline and breaker."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import orjson

from sidecar_fn.breaker import CircuitBreaker
from sidecar_fn.drift import valid_invoice_id
from sidecar_fn.errors import SettingsError, SourceUnavailable
from sidecar_fn.http_body import MAX_CALL_BYTES, ByteAllowance, echo, error_code, read_body
from sidecar_fn.http_deadline import deadline_transport, exchange_deadline
from sidecar_fn.http_errors import classified_http_errors
from sidecar_fn.ports import SourceRecord
from sidecar_fn.retries import Retryable
from sidecar_fn.schema import ID_FIELD
from sidecar_fn.secrets import StaticToken, TokenSource
from sidecar_fn.source_calls import RETRYABLE_STATUS, CallScope, SourceCalls

BATCH_PATH = "/api/source/salesforce/invoices"
MAX_IDS_PER_REQUEST = 200


class _Unauthorized(Exception):
    """The source answered 401 to the token sent."""


class HttpSourceOfTruth:
    """SourceOfTruth over HTTP: `GET /api/source/salesforce/invoices?ids=...`.

    Ids are validated before they reach a URL, sent in chunks of at most 200 fetched
    concurrently, each chunk retried with exponential backoff and full jitter on
    timeouts, connection errors, 5xx, 429 and 403 REQUEST_LIMIT_EXCEEDED, all within the
    call's budget, which bounds the whole exchange on the wall clock (connect, headers
    and body). Answers are asked for and read unencoded, under a per-answer and a per-call
    byte cap. Redirects are never followed. A body that is not the aligned array of the
    ids asked for is refused. A 401 re-reads the token once (see TokenSource) and tries
    again with the new one. Every failure becomes SourceUnavailable with a bounded
    message; a circuit breaker refuses calls for a while after repeated failures.
    """

    name = "salesforce"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        token_source: TokenSource | None = None,
        timeout_s: float = 2.0,
        max_attempts: int = 3,
        backoff_s: float = 0.05,
        chunk_size: int = MAX_IDS_PER_REQUEST,
        concurrency: int = 4,
        keepalive: bool = False,
        default_budget_s: float = 10.0,
        breaker: CircuitBreaker | None = None,
        max_call_bytes: int = MAX_CALL_BYTES,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if not 1 <= chunk_size <= MAX_IDS_PER_REQUEST:
            raise ValueError(f"chunk_size must be 1..{MAX_IDS_PER_REQUEST}")
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        self._tokens = token_source if token_source is not None else None
        if token and token_source is None:
            self._tokens = StaticToken(token)
        if not keepalive:
            headers["Connection"] = "close"
        limits = httpx.Limits(
            max_connections=max(concurrency, 1) * 2,
            max_keepalive_connections=max(concurrency, 1) if keepalive else 0,
        )
        self._client = httpx.Client(
            headers=headers,
            follow_redirects=False,
            timeout=timeout_s,
            transport=transport if transport is not None else deadline_transport(limits),
            limits=limits,
        )
        self._batch_url = f"{base_url.rstrip('/')}{BATCH_PATH}?ids="
        self._chunk_size = chunk_size
        self._calls = SourceCalls(
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            backoff_s=backoff_s,
            concurrency=concurrency,
            default_budget_s=default_budget_s,
            max_call_bytes=max_call_bytes,
            breaker=breaker,
            clock=clock,
            sleep=sleep,
            jitter=jitter,
        )
        self._clock = clock

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker guarding this source."""
        return self._calls.breaker

    def close(self) -> None:
        """Close connections and worker threads."""
        self._client.close()
        self._calls.close()

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
        scope = self._calls.scope(budget_s)
        chunks = [wanted[i : i + self._chunk_size] for i in range(0, len(wanted), self._chunk_size)]
        result.update(self._calls.run_chunks(chunks, lambda chunk: self._fetch(chunk, scope)))
        return result

    def _fetch(self, chunk: list[str], scope: CallScope) -> dict[str, SourceRecord | None]:
        url = self._batch_url + ",".join(chunk)
        return self._calls.retry(
            lambda timeout_s: self._exchange(
                url, chunk, timeout_s, scope.deadline, scope.allowance
            ),
            scope.deadline,
            "source of truth",
        )

    def _exchange(
        self,
        url: str,
        chunk: list[str],
        timeout_s: float,
        deadline: float,
        allowance: ByteAllowance,
    ) -> dict[str, Any]:
        """One attempt: the request, and once more with a re-read token after a 401."""
        try:
            token = self._tokens.current() if self._tokens is not None else None
        except SettingsError as exc:
            raise SourceUnavailable(f"source of truth token unavailable: {exc}") from exc
        try:
            return self._attempt(url, chunk, timeout_s, deadline, allowance, token)
        except _Unauthorized:
            if self._tokens is None or token is None:
                raise SourceUnavailable("source of truth refused the request: HTTP 401") from None
        try:
            fresh = self._tokens.refreshed(token)
        except SettingsError as exc:
            raise SourceUnavailable(f"source of truth token unavailable: {exc}") from exc
        try:
            return self._attempt(url, chunk, timeout_s, deadline, allowance, fresh)
        except _Unauthorized:
            raise SourceUnavailable(
                "source of truth refused the request: HTTP 401 with the token read again"
            ) from None

    def _attempt(
        self,
        url: str,
        chunk: list[str],
        timeout_s: float,
        deadline: float,
        allowance: ByteAllowance,
        token: str | None,
    ) -> dict[str, Any]:
        """One request, its whole exchange bounded by the deadline (see http_deadline)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        with (
            classified_http_errors("source of truth request"),
            exchange_deadline(deadline - self._clock()),
            self._client.stream("GET", url, timeout=timeout_s, headers=headers) as response,
        ):
            body = read_body(response, allowance=allowance, deadline=deadline, clock=self._clock)
            status = response.status_code
            location = response.headers.get("location", "")
        if 300 <= status < 400:
            raise SourceUnavailable(
                f"source of truth answered {status}; not following {echo(location)}"
            )
        if status == 401:
            raise _Unauthorized
        if status != 200:
            code = error_code(body)
            detail = f"HTTP {status}" + (f" {code}" if code else "")
            if status in RETRYABLE_STATUS or status >= 500 or code == "REQUEST_LIMIT_EXCEEDED":
                raise Retryable(detail)
            raise SourceUnavailable(f"source of truth refused the request: {detail}")
        return self._decode(body, chunk)

    @staticmethod
    def _decode(body: bytes, chunk: list[str]) -> dict[str, Any]:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Retryable(f"source of truth answer is not JSON ({echo(str(exc))})") from exc
        if not isinstance(document, list) or len(document) != len(chunk):
            raise Retryable("source of truth answer is not an array aligned with the ids")
        records: dict[str, Any] = {}
        for invoice_id, record in zip(chunk, document, strict=True):
            if record is None:
                records[invoice_id] = None
            elif isinstance(record, dict) and record.get(ID_FIELD) == invoice_id:
                records[invoice_id] = record
            else:
                got = record.get(ID_FIELD) if isinstance(record, dict) else type(record).__name__
                raise Retryable(f"source of truth answered {echo(got)} for {invoice_id}; refused")
        return records
