"""httpx adapter for a Salesforce org: OAuth client credentials, SOQL lookups by external
id in concurrent chunks, pages followed, fields mapped to the schema, API usage watched."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import httpx
import orjson

from sidecar_fn.api_usage import ApiUsage, parse_limit_info
from sidecar_fn.breaker import CircuitBreaker
from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.http_body import ByteAllowance, echo, error_code, read_body
from sidecar_fn.http_deadline import deadline_transport, exchange_deadline
from sidecar_fn.http_errors import classified_http_errors
from sidecar_fn.ports import MetricsSink, SourceRecord
from sidecar_fn.retries import Retryable
from sidecar_fn.salesforce_auth import CredentialSource, SalesforceSession, SessionKeeper
from sidecar_fn.salesforce_fields import FieldMapping
from sidecar_fn.schema import ID_FIELD
from sidecar_fn.soql_lookup import (
    MAX_IDS_PER_QUERY,
    LookupChunk,
    chunk_lookups,
    is_lookup_id,
)
from sidecar_fn.source_calls import RETRYABLE_STATUS, CallScope, QuotaExhausted, SourceCalls

TOKEN_PATH = "/services/oauth2/token"
MAX_PAGES = 100
MAX_TOKEN_BYTES = 64 * 1024
USAGE_WARN_EVERY_S = 60.0
_DATA_PREFIX = "/services/data/"


class AdapterLog(Protocol):
    """Where session and usage notices go (a Powertools or standard logger)."""

    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


class SessionInvalid(SourceUnavailable):
    """401 INVALID_SESSION_ID: the token expired or was revoked."""

    def __init__(self, session: SalesforceSession) -> None:
        super().__init__("Salesforce session expired or invalid")
        self.session = session


def _message(body: bytes) -> str:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(document, list) and document and isinstance(document[0], Mapping):
        text = document[0].get("message")
        if isinstance(text, str):
            return "".join(c for c in text[:200] if c.isprintable())
    return ""


class SalesforceSourceOfTruth:
    """SourceOfTruth over Salesforce's REST API.

    One SOQL query per chunk of drifted ids (at most `max_ids` ids, and a URL that keeps
    URI plus headers within 16,384 bytes), chunks concurrent, `nextRecordsUrl` followed.
    The access token is fetched once and replaced once on 401 (the request then retried);
    403 REQUEST_LIMIT_EXCEEDED trips the breaker and hands the records back. Retries,
    deadline, breaker and concurrency are the shared `SourceCalls`.
    """

    name = "salesforce"

    def __init__(
        self,
        login_url: str,
        credentials: CredentialSource,
        mapping: FieldMapping,
        *,
        calls: SourceCalls,
        api_version: str = "59.0",
        sobject: str = "Invoice__c",
        max_ids: int = MAX_IDS_PER_QUERY,
        keepalive: bool = True,
        metrics: MetricsSink | None = None,
        logger: AdapterLog | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= max_ids <= MAX_IDS_PER_QUERY:
            raise ValueError(f"max_ids must be 1..{MAX_IDS_PER_QUERY}")
        self._token_url = login_url.rstrip("/") + TOKEN_PATH
        self._credentials = credentials
        self.mapping = mapping
        self.calls = calls
        self._version = api_version
        self._sobject = sobject
        self._max_ids = max_ids
        self._metrics = metrics
        self._logger = logger
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        if not keepalive:
            headers["Connection"] = "close"
        limits = httpx.Limits(
            max_connections=max(calls.concurrency, 1) * 2,
            max_keepalive_connections=max(calls.concurrency, 1) if keepalive else 0,
        )
        self._client = httpx.Client(
            headers=headers,
            follow_redirects=False,
            timeout=calls.timeout_s,
            transport=transport if transport is not None else deadline_transport(limits),
            limits=limits,
        )
        self.sessions = SessionKeeper(self._login)
        self._usage_lock = threading.Lock()
        self._usage: ApiUsage | None = None
        self._usage_fresh = False
        self._warned_at: float | None = None
        self.queries = 0
        self.pages = 0

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker guarding this source."""
        return self.calls.breaker

    @property
    def usage(self) -> ApiUsage | None:
        """The org's API usage as its last answer reported it."""
        with self._usage_lock:
            return self._usage

    def close(self) -> None:
        """Close connections and worker threads."""
        self._client.close()
        self.calls.close()

    def fetch_many(
        self, ids: Sequence[str], *, budget_s: float | None = None
    ) -> Mapping[str, SourceRecord | None]:
        """See SourceOfTruth.fetch_many. Ids that are not invoice ids answer None unasked."""
        result: dict[str, SourceRecord | None] = {}
        wanted: list[str] = []
        for value in dict.fromkeys(ids):
            if is_lookup_id(value):
                wanted.append(value)
            else:
                result[value] = None
        if not wanted:
            return result
        scope = self.calls.scope(budget_s)
        deadline = scope.deadline
        with self._usage_lock:
            self._usage_fresh = False
        try:
            session = self.calls.guarded(lambda: self.sessions.current(deadline))
            chunks = chunk_lookups(
                wanted,
                query_url=self._query_url(session),
                select=self.mapping.select,
                sobject=self._sobject,
                id_field=self.mapping.external_id_field,
                header_bytes=self._header_bytes(session),
                max_ids=self._max_ids,
            )
            result.update(self.calls.run_chunks(chunks, lambda c: self._lookup(c, scope)))
        finally:
            self._report_usage()
        return result

    def _query_url(self, session: SalesforceSession) -> str:
        return f"{session.instance_url}{_DATA_PREFIX}v{self._version}/query?q="

    def _header_bytes(self, session: SalesforceSession) -> int:
        fixed = sum(len(k) + len(v) + 4 for k, v in self._client.headers.items())
        host = session.instance_url.split("://", 1)[-1]
        return fixed + len("Authorization: Bearer \r\n") + len(session.access_token) + len(host) + 8

    def _lookup(self, chunk: LookupChunk, scope: CallScope) -> dict[str, SourceRecord | None]:
        records: dict[str, SourceRecord | None] = {}
        url = chunk.url
        for _ in range(MAX_PAGES):
            page = self._get(url, scope)
            for raw in page["records"]:
                record = self.mapping.to_record(raw) if isinstance(raw, Mapping) else {}
                key = record.get(ID_FIELD)
                if key not in chunk.ids or key in records:
                    raise SourceUnavailable(
                        f"Salesforce answered {echo(key)} for a lookup that did not "
                        "ask for it (or twice); refused"
                    )
                records[key] = record
            if page["done"] is True:
                return {value: records.get(value) for value in chunk.ids}
            url = self._next_url(page.get("nextRecordsUrl"))
        raise SourceUnavailable(f"Salesforce answered more than {MAX_PAGES} pages; refused")

    def _next_url(self, next_records_url: Any) -> str:
        if (
            not isinstance(next_records_url, str)
            or not next_records_url.startswith(_DATA_PREFIX)
            or not next_records_url.isascii()
            or any(c in next_records_url for c in "?#\\ \r\n")
            or ".." in next_records_url
        ):
            raise SourceUnavailable("Salesforce answered an unusable nextRecordsUrl; refused")
        session = self.sessions.current(self.calls.clock() + self.calls.timeout_s)
        return session.instance_url + next_records_url

    def _get(self, url: str, scope: CallScope) -> dict[str, Any]:
        """One page, retried; the session replaced once if Salesforce says it is invalid."""
        deadline = scope.deadline
        try:
            return self.calls.retry(lambda t: self._attempt(url, t, scope), deadline, "Salesforce")
        except SessionInvalid as expired:
            if self.sessions.replace(expired.session, deadline) is not expired.session:
                self._note_new_session()
        try:
            return self.calls.retry(lambda t: self._attempt(url, t, scope), deadline, "Salesforce")
        except SessionInvalid:
            raise SourceUnavailable("Salesforce refused a fresh session too") from None

    def _attempt(self, url: str, timeout_s: float, scope: CallScope) -> dict[str, Any]:
        """One request, its whole exchange bounded by the deadline (see http_deadline)."""
        deadline = scope.deadline
        session = self.sessions.current(deadline)
        headers = {"Authorization": f"Bearer {session.access_token}"}
        with self._usage_lock:
            self.pages += 1
            self.queries += "/query?q=" in url
        with (
            classified_http_errors("Salesforce request"),
            exchange_deadline(deadline - self.calls.clock()),
            self._client.stream("GET", url, headers=headers, timeout=timeout_s) as response,
        ):
            body = read_body(
                response, allowance=scope.allowance, deadline=deadline, clock=self.calls.clock
            )
            status = response.status_code
            usage = parse_limit_info(response.headers.get("sforce-limit-info"))
        if usage is not None:
            with self._usage_lock:
                # answers of concurrent chunks arrive in any order: within a call keep the
                # highest count; a new call starts afresh (the daily window may have rolled)
                prior = self._usage if self._usage_fresh else None
                if prior is None or usage.used >= prior.used or usage.limit != prior.limit:
                    self._usage = usage
                self._usage_fresh = True
        if status == 200:
            return _page(body)
        code = error_code(body)
        detail = f"HTTP {status}" + (f" {code}" if code else "")
        if status == 401:
            raise SessionInvalid(session)
        if code == "REQUEST_LIMIT_EXCEEDED":
            raise QuotaExhausted(f"Salesforce API limit reached: {detail}")
        if status in RETRYABLE_STATUS or status >= 500:
            raise Retryable(detail)
        if 300 <= status < 400:
            raise SourceUnavailable(f"Salesforce answered {status}; not following redirects")
        message = _message(body)
        raise SourceUnavailable(
            f"Salesforce refused the query: {detail}" + (f": {message}" if message else "")
        )

    def _login(self, fresh: bool, deadline: float) -> SalesforceSession:
        """Client credentials flow against the login URL, retried within `deadline`."""
        credentials = self._credentials(fresh)
        form = {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        }

        def attempt(timeout_s: float) -> SalesforceSession:
            with (
                classified_http_errors("Salesforce login"),
                exchange_deadline(deadline - self.calls.clock()),
                self._client.stream(
                    "POST", self._token_url, data=form, timeout=timeout_s
                ) as response,
            ):
                body = read_body(
                    response,
                    allowance=ByteAllowance(MAX_TOKEN_BYTES),
                    deadline=deadline,
                    clock=self.calls.clock,
                    max_bytes=MAX_TOKEN_BYTES,
                )
                status = response.status_code
            if status in RETRYABLE_STATUS or status >= 500:
                raise Retryable(f"HTTP {status}")
            return _session(status, body)

        return self.calls.retry(attempt, deadline, "Salesforce login")

    def _note_new_session(self) -> None:
        if self._logger is not None:
            self._logger.info(
                "Salesforce session expired; logged in again",
                extra={"salesforce_logins": self.sessions.logins},
            )

    def _report_usage(self) -> None:
        usage = self.usage
        if usage is None:
            return
        if self._metrics is not None:
            self._metrics.publish(
                {"salesforce_api_used": usage.used, "salesforce_api_limit": usage.limit}
            )
        if usage.near_limit and self._logger is not None:
            now = self.calls.clock()
            if self._warned_at is None or now - self._warned_at >= USAGE_WARN_EVERY_S:
                self._warned_at = now
                self._logger.warning(
                    f"Salesforce API usage at {usage.share:.0%} of the daily limit "
                    f"({usage.used}/{usage.limit})",
                    extra={"api_used": usage.used, "api_limit": usage.limit},
                )


def _page(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Retryable(f"Salesforce answer is not JSON ({echo(str(exc))})") from exc
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("records"), list)
        or not isinstance(document.get("done"), bool)
    ):
        raise Retryable("Salesforce answer is not a query result")
    return document


def _session(status: int, body: bytes) -> SalesforceSession:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if status != 200:
        error = document.get("error") if isinstance(document, dict) else None
        shown = error[:64] if isinstance(error, str) and error.isascii() else f"HTTP {status}"
        raise SourceUnavailable(f"Salesforce login refused: {shown}")
    token = document.get("access_token") if isinstance(document, dict) else None
    instance = document.get("instance_url") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token or not token.isascii() or not token.isprintable():
        raise SourceUnavailable("Salesforce login answer has no usable access_token")
    if (
        not isinstance(instance, str)
        or not instance.startswith(("https://", "http://"))
        or not instance.isascii()
        or any(c in instance for c in "?#@\\ \r\n")
    ):
        raise SourceUnavailable("Salesforce login answer has no usable instance_url")
    return SalesforceSession(token, instance.rstrip("/"))
