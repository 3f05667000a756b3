"""SalesforceSourceOfTruth against a scripted org on an in-memory httpx transport."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import pytest
from chalicelib.catalogue import pristine_invoice
from chalicelib.salesforce_fields import sobject
from chalicelib.soql import parse_lookup

from sidecar_fn.api_usage import parse_limit_info
from sidecar_fn.breaker import CircuitBreaker
from sidecar_fn.errors import SettingsError, SourceUnavailable
from sidecar_fn.salesforce_auth import (
    ClientCredentials,
    credentials_from_document,
    secret_credentials,
    static_credentials,
)
from sidecar_fn.salesforce_fields import field_mapping
from sidecar_fn.schema import load_schema
from sidecar_fn.settings import Settings
from sidecar_fn.source_calls import SourceCalls
from sidecar_fn.source_salesforce import SalesforceSourceOfTruth

from .fakes import RecordingMetrics

FULL = load_schema("sidecar_fn/schemas/invoice_full.json")
LOGIN = "https://login.example"
INSTANCE = "https://acme.my.example"


class FakeOrg:
    """Token endpoint and query routes of one org, scripted by the test."""

    def __init__(self, page_size: int = 2000, limit: int = 1000) -> None:
        self.page_size = page_size
        self.limit = limit
        self.used = 0
        self.tokens: set[str] = set()
        self.counter = itertools.count(1)
        self.logins: list[dict[str, list[str]]] = []
        self.queries: list[str] = []
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        self.login_status = 200
        self.extra_record: dict[str, Any] | None = None
        self.failures: list[int] = []

    def expire_all(self) -> None:
        self.tokens.clear()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/services/oauth2/token":
            return self.token(request)
        assert str(request.url).startswith(INSTANCE)
        headers = {"Sforce-Limit-Info": f"api-usage={self.used}/{self.limit}"}
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
            return httpx.Response(401, json=body, headers=headers)
        if self.used >= self.limit:
            body = [
                {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
            ]
            return httpx.Response(403, json=body, headers=headers)
        self.used += 1
        headers = {"Sforce-Limit-Info": f"api-usage={self.used}/{self.limit}"}
        if self.failures:
            return httpx.Response(self.failures.pop(0), json=[{"errorCode": "X", "message": ""}])
        if "/query/" in request.url.path:
            locator = request.url.path.rsplit("/", 1)[1]
            return self.page(self.cursors.pop(locator), headers)
        query = parse_qs(request.url.query.decode())["q"][0]
        self.queries.append(query)
        lookup = parse_lookup(query)
        numbers = sorted({int(v[4:]) for v in lookup.values if int(v[4:]) <= 1_000_000})
        records = [sobject(n, lookup.fields, "59.0") for n in numbers if n > 0]
        if self.extra_record is not None:
            records.append(self.extra_record)
        return self.page(records, headers)

    def page(self, records: list[dict[str, Any]], headers: dict[str, str]) -> httpx.Response:
        body: dict[str, Any] = {
            "totalSize": len(records),
            "done": True,
            "records": records[: self.page_size],
        }
        if len(records) > self.page_size:
            locator = f"01g{next(self.counter):015d}-{self.page_size}"
            self.cursors[locator] = records[self.page_size :]
            body["done"] = False
            body["nextRecordsUrl"] = f"/services/data/v59.0/query/{locator}"
        return httpx.Response(200, json=body, headers=headers)

    def token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        self.logins.append(form)
        if self.login_status != 200:
            error = {"error": "invalid_client", "error_description": "invalid client credentials"}
            return httpx.Response(self.login_status, json=error)
        token = f"00Dxx!token-{next(self.counter)}"
        self.tokens.add(token)
        return httpx.Response(
            200,
            json={
                "access_token": token,
                "instance_url": INSTANCE,
                "id": f"{LOGIN}/id/00D/005",
                "token_type": "Bearer",
                "issued_at": "1",
                "signature": "s",
            },
        )


def make_source(
    org: Callable[[httpx.Request], httpx.Response],
    *,
    max_ids: int = 200,
    concurrency: int = 4,
    metrics: RecordingMetrics | None = None,
    logger: logging.Logger | None = None,
    breaker: CircuitBreaker | None = None,
    credentials: Any = None,
) -> SalesforceSourceOfTruth:
    calls = SourceCalls(
        timeout_s=1.0,
        max_attempts=3,
        backoff_s=0.0,
        concurrency=concurrency,
        breaker=breaker,
        sleep=lambda _s: None,
    )
    return SalesforceSourceOfTruth(
        LOGIN,
        credentials or static_credentials("key", "secret"),
        field_mapping(FULL, "Invoice_Number__c"),
        calls=calls,
        max_ids=max_ids,
        metrics=metrics,
        logger=logger,
        transport=httpx.MockTransport(org),
    )


def test_known_ids_are_mapped_records_and_unknown_ids_none() -> None:
    org = FakeOrg()
    source = make_source(org)
    answer = source.fetch_many(["INV-1", "INV-2", "INV-0", "INV-2000000", "INV-1"])
    assert answer == {
        "INV-1": pristine_invoice(1),
        "INV-2": pristine_invoice(2),
        "INV-0": None,
        "INV-2000000": None,
    }
    assert len(org.queries) == 1 and len(org.logins) == 1
    assert org.logins[0] == {
        "grant_type": ["client_credentials"],
        "client_id": ["key"],
        "client_secret": ["secret"],
    }


@pytest.mark.parametrize(
    "hostile", ["INV-1' OR Name != '", "INV-1\\'", "INV-1') OR ('a'='a", "x", "", "INV-\u0661"]
)
def test_hostile_ids_answer_none_without_a_query(hostile: str) -> None:
    org = FakeOrg()
    source = make_source(org)
    assert source.fetch_many([hostile]) == {hostile: None}
    assert org.queries == [] and org.logins == []
    answer = source.fetch_many([hostile, "INV-3"])
    assert answer == {hostile: None, "INV-3": pristine_invoice(3)}
    assert parse_lookup(org.queries[0]).values == ("INV-3",)


def test_the_token_is_fetched_once_and_reused() -> None:
    org = FakeOrg()
    source = make_source(org)
    for n in range(1, 6):
        source.fetch_many([f"INV-{n}"])
    assert len(org.logins) == 1 and len(org.queries) == 5


def test_an_expired_session_is_replaced_once_for_all_concurrent_chunks() -> None:
    org = FakeOrg()
    source = make_source(org, max_ids=10, concurrency=4)
    source.fetch_many(["INV-1"])
    org.expire_all()
    ids = [f"INV-{n}" for n in range(1, 81)]
    answer = source.fetch_many(ids)
    assert answer == {i: pristine_invoice(int(i[4:])) for i in ids}
    assert len(org.logins) == 2


def test_a_session_refused_right_after_login_gives_up() -> None:
    org = FakeOrg()
    source = make_source(org)
    source.fetch_many(["INV-1"])
    org.expire_all()
    original = org.token

    def token_that_never_works(request: httpx.Request) -> httpx.Response:
        response = original(request)
        org.tokens.clear()
        return response

    org.token = token_that_never_works  # type: ignore[method-assign]
    with pytest.raises(SourceUnavailable, match="fresh session"):
        source.fetch_many(["INV-2"])
    assert len(org.logins) == 2


def test_pages_are_followed() -> None:
    org = FakeOrg(page_size=3)
    source = make_source(org)
    ids = [f"INV-{n}" for n in range(1, 11)]
    assert source.fetch_many(ids) == {i: pristine_invoice(int(i[4:])) for i in ids}
    assert source.pages == 4 and source.queries == 1


def test_chunks_are_bounded_by_id_count() -> None:
    org = FakeOrg()
    source = make_source(org, max_ids=7)
    source.fetch_many([f"INV-{n}" for n in range(1, 31)])
    assert sorted(len(parse_lookup(q).values) for q in org.queries) == [2, 7, 7, 7, 7]


def test_the_limit_exceeded_trips_the_breaker_and_hands_back() -> None:
    org = FakeOrg(limit=2)
    breaker = CircuitBreaker(threshold=5, reset_after_s=60)
    source = make_source(org, breaker=breaker)
    source.fetch_many(["INV-1"])
    source.fetch_many(["INV-2"])
    with pytest.raises(SourceUnavailable, match="REQUEST_LIMIT_EXCEEDED"):
        source.fetch_many(["INV-3"])
    assert breaker.is_open
    with pytest.raises(SourceUnavailable, match="circuit is open"):
        source.fetch_many(["INV-4"])
    assert len(org.queries) == 2


def test_usage_is_published_and_a_warning_logged_past_80_percent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    org = FakeOrg(limit=10)
    metrics = RecordingMetrics()
    source = make_source(org, metrics=metrics, logger=logging.getLogger("sf-test"))
    with caplog.at_level(logging.WARNING, logger="sf-test"):
        for n in range(1, 9):
            source.fetch_many([f"INV-{n}"])
        assert not caplog.records
        source.fetch_many(["INV-9"])
    assert metrics.published[-1] == {"salesforce_api_used": 9, "salesforce_api_limit": 10}
    assert [r.getMessage() for r in caplog.records] == [
        "Salesforce API usage at 90% of the daily limit (9/10)"
    ]


def test_a_record_nobody_asked_for_is_refused() -> None:
    org = FakeOrg()
    org.extra_record = sobject(9, ("Id", "Invoice_Number__c"), "59.0")
    source = make_source(org)
    with pytest.raises(SourceUnavailable, match="did not ask"):
        source.fetch_many(["INV-1"])


def test_server_errors_are_retried() -> None:
    org = FakeOrg()
    org.failures = [503, 500]
    source = make_source(org)
    assert source.fetch_many(["INV-1"]) == {"INV-1": pristine_invoice(1)}


def test_a_refused_query_is_not_retried_and_names_the_code() -> None:
    org = FakeOrg()
    org.failures = [400]
    source = make_source(org)
    with pytest.raises(SourceUnavailable, match="HTTP 400 X"):
        source.fetch_many(["INV-1"])
    assert org.failures == []


def test_wrong_credentials_fail_the_login_clearly() -> None:
    org = FakeOrg()
    org.login_status = 400
    source = make_source(org)
    with pytest.raises(SourceUnavailable, match="login refused: invalid_client"):
        source.fetch_many(["INV-1"])


def test_secret_credentials_are_read_through_parameters_with_a_max_age() -> None:
    reads: list[dict[str, Any]] = []
    documents = iter(
        [{"client_id": "key", "client_secret": "old"}, {"client_id": "key", "client_secret": "new"}]
    )

    def get_secret(name: str, **options: Any) -> Any:
        reads.append({"name": name, **options})
        return next(documents)

    source = secret_credentials("arn:secret", max_age_s=120, get_secret=get_secret)
    assert source(False) == ClientCredentials("key", "old")
    assert source(True) == ClientCredentials("key", "new")
    assert reads == [
        {"name": "arn:secret", "transform": "json", "max_age": 120, "force_fetch": False},
        {"name": "arn:secret", "transform": "json", "max_age": 120, "force_fetch": True},
    ]


def test_a_rotated_secret_is_used_by_the_next_login() -> None:
    org = FakeOrg()
    secrets = iter(["first", "second"])
    source = make_source(org, credentials=lambda fresh: ClientCredentials("key", next(secrets)))
    source.fetch_many(["INV-1"])
    org.expire_all()
    source.fetch_many(["INV-2"])
    assert [form["client_secret"] for form in org.logins] == [["first"], ["second"]]


@pytest.mark.parametrize(
    "document",
    [None, [], {"client_id": "a"}, {"client_secret": "b"}, {"client_id": 1, "client_secret": "b"}],
)
def test_bad_secret_documents_are_settings_errors(document: Any) -> None:
    with pytest.raises(SettingsError, match="secret"):
        credentials_from_document(document)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("api-usage=25/5000", (25, 5000)),
        ("api-usage=25/5000, per-app-api-usage=17/250(appName=sample)", (25, 5000)),
        ("per-app-api-usage=17/250(appName=x)", None),
        ("api-usage=x/5", None),
        ("", None),
        (None, None),
    ],
)
def test_limit_info_is_parsed(header: str | None, expected: tuple[int, int] | None) -> None:
    usage = parse_limit_info(header)
    assert (None if usage is None else (usage.used, usage.limit)) == expected


def test_settings_for_salesforce() -> None:
    env = {
        "AOS_SOT_KIND": "salesforce",
        "SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com/",
        "SALESFORCE_CLIENT_ID": "k",
        "SALESFORCE_CLIENT_SECRET": "s3cret",
        "SALESFORCE_API_VERSION": "v61.0",
    }
    settings = Settings.from_env(env)
    assert settings.salesforce_login_url == "https://acme.my.salesforce.com"
    assert settings.salesforce_api_version == "61.0"
    assert settings.salesforce_object == "Invoice__c"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AOS_SOT_KIND": "oracle"}, "AOS_SOT_KIND"),
        ({"AOS_SOT_KIND": "salesforce"}, "SALESFORCE_LOGIN_URL"),
        ({"AOS_SOT_KIND": "salesforce", "SALESFORCE_LOGIN_URL": "https://x"}, "CLIENT_ID"),
        ({"SALESFORCE_OBJECT": "Invoice__c WHERE"}, "SALESFORCE_OBJECT"),
        ({"SALESFORCE_EXTERNAL_ID_FIELD": "a,b"}, "SALESFORCE_EXTERNAL_ID_FIELD"),
        ({"SALESFORCE_API_VERSION": "latest"}, "SALESFORCE_API_VERSION"),
        ({"SALESFORCE_LOGIN_URL": "ftp://x"}, "SALESFORCE_LOGIN_URL"),
    ],
)
def test_bad_salesforce_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_query_urls_are_encoded_and_short() -> None:
    org = FakeOrg()
    seen: list[str] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return org(request)

    source = make_source(recording)
    source.fetch_many([f"INV-{n}" for n in range(1, 201)])
    query_urls = [u for u in seen if "/query?q=" in u]
    assert len(query_urls) == 1 and len(query_urls[0]) < 16_384
    assert "'" not in query_urls[0] and " " not in query_urls[0]
    assert unquote(query_urls[0]).count("'INV-") == 200
