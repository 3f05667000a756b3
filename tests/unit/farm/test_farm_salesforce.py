"""The Salesforce REST subset through `chalice.test.Client`: token, query, sObjects, limits."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from chalice.test import Client
from chalicelib.api_limits import ApiUsage
from chalicelib.catalogue import pristine_invoice
from chalicelib.config import FarmConfig
from chalicelib.errors import FarmError
from chalicelib.faults import FaultInjector
from chalicelib.oauth import SessionStore
from chalicelib.salesforce_fields import FIELDS
from chalicelib.salesforce_ids import checksum, record_id, record_number

ClientFactory = Callable[..., Client]

FORM = {"Content-Type": "application/x-www-form-urlencoded", "Host": "farm.example:8443"}
GOOD_FORM = (
    "grant_type=client_credentials&client_id=aos-farm-dev-client&client_secret=aos-farm-dev-secret"
)
QUERY = "/services/data/v59.0/query?q="


def body(response: Any) -> Any:
    return orjson.loads(response.body)


def error_code(response: Any) -> str:
    errors = body(response)
    assert isinstance(errors, list) and set(errors[0]) == {"errorCode", "message"}
    code: str = errors[0]["errorCode"]
    return code


def login(client: Client) -> dict[str, str]:
    response = client.http.post("/services/oauth2/token", headers=FORM, body=GOOD_FORM)
    assert response.status_code == 200
    return {"Authorization": f"Bearer {body(response)['access_token']}"}


def soql(client: Client, headers: dict[str, str], query: str) -> Any:
    return client.http.get(QUERY + quote(query, safe=""), headers=headers)


def test_the_token_answer_has_salesforce_shape(client: Client) -> None:
    response = client.http.post("/services/oauth2/token", headers=FORM, body=GOOD_FORM)
    token = body(response)
    assert set(token) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert token["instance_url"] == "http://farm.example:8443"
    assert token["token_type"] == "Bearer"
    assert token["issued_at"].isdigit()


def test_the_instance_url_keeps_a_forwarded_https_scheme(client: Client) -> None:
    headers = {**FORM, "X-Forwarded-Proto": "https"}
    response = client.http.post("/services/oauth2/token", headers=headers, body=GOOD_FORM)
    assert body(response)["instance_url"] == "https://farm.example:8443"


def test_http_basic_credentials_are_accepted(client: Client) -> None:
    basic = base64.b64encode(b"aos-farm-dev-client:aos-farm-dev-secret").decode()
    headers = {**FORM, "Authorization": f"Basic {basic}"}
    response = client.http.post(
        "/services/oauth2/token", headers=headers, body="grant_type=client_credentials"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            "grant_type=client_credentials&client_id=aos-farm-dev-client&client_secret=nope",
            "invalid_client",
        ),
        (
            "grant_type=client_credentials&client_id=other&client_secret=aos-farm-dev-secret",
            "invalid_client",
        ),
        ("grant_type=password&client_id=a&client_secret=b", "unsupported_grant_type"),
        ("client_id=a&client_secret=b", "unsupported_grant_type"),
        ("grant_type=client_credentials", "invalid_client_id"),
        ("grant_type=client_credentials&grant_type=client_credentials", "invalid_request"),
        ("grant_type=client_credentials&client_id=%FF", "invalid_request"),
        ("%%%", "invalid_request"),
        ("grant_type=client_credentials&x=" + "a" * 5000, "invalid_request"),
    ],
)
def test_bad_token_requests_get_oauth_errors(client: Client, form: str, error: str) -> None:
    response = client.http.post("/services/oauth2/token", headers=FORM, body=form)
    assert response.status_code == 400
    answer = body(response)
    assert answer["error"] == error and answer["error_description"]


def test_the_version_list_has_salesforce_shape(client: Client) -> None:
    versions = body(client.http.get("/services/data"))
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
    assert all(set(v) == {"label", "url", "version"} for v in versions)


def test_a_lookup_answers_known_ids_only(client: Client) -> None:
    headers = login(client)
    response = soql(
        client,
        headers,
        "SELECT Id, Status__c, Total_Amount__c FROM Invoice__c "
        "WHERE Invoice_Number__c IN ('INV-3', 'INV-1', 'INV-0', 'INV-3', 'INV-007', 'nope')",
    )
    assert response.status_code == 200
    answer = body(response)
    assert answer["totalSize"] == 2 and answer["done"] is True
    assert [r["Id"] for r in answer["records"]] == [record_id(1), record_id(3)]
    first = answer["records"][0]
    assert list(first) == ["attributes", "Id", "Status__c", "Total_Amount__c"]
    assert first["attributes"] == {
        "type": "Invoice__c",
        "url": f"/services/data/v59.0/sobjects/Invoice__c/{record_id(1)}",
    }
    assert first["Status__c"] == pristine_invoice(1)["status"]


def test_field_names_ignore_case_and_answer_canonically(client: Client) -> None:
    headers = login(client)
    answer = body(
        soql(client, headers, "select id, STATUS__C from invoice__c where name = 'INV-2'")
    )
    assert list(answer["records"][0]) == ["attributes", "Id", "Status__c"]


def test_every_field_reads_from_the_pristine_invoice(client: Client) -> None:
    headers = login(client)
    fields = ", ".join(FIELDS)
    answer = body(
        soql(client, headers, f"SELECT {fields} FROM Invoice__c WHERE Id = '{record_id(77)}'")
    )
    record, invoice = answer["records"][0], pristine_invoice(77)
    assert record["Invoice_Number__c"] == "INV-77" == record["Name"]
    assert record["Billing_Postal_Code__c"] == invoice["billing_address"]["postal_code"]
    assert record["Last_Modified__c"] == invoice["last_modified"][:-1] + ".000+0000"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("SELECT Nope__c FROM Invoice__c WHERE Name = 'INV-1'", 400, "INVALID_FIELD"),
        ("SELECT Id FROM Invoice__c WHERE Nope__c = 'INV-1'", 400, "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Name = 'INV-1'", 400, "INVALID_TYPE"),
        ("SELECT Id FROM Invoice__c WHERE Status__c = 'PAID'", 400, "MALFORMED_QUERY"),
        ("SELECT Id, id FROM Invoice__c WHERE Name = 'INV-1'", 400, "MALFORMED_QUERY"),
        ("DELETE FROM Invoice__c", 400, "MALFORMED_QUERY"),
    ],
)
def test_query_errors(client: Client, query: str, status: int, code: str) -> None:
    response = soql(client, login(client), query)
    assert response.status_code == status and error_code(response) == code


@pytest.mark.parametrize(
    "path",
    [
        "/services/data/v59.0/query",
        "/services/data/v59.0/query?q=x&q=y",
        "/services/data/v59.0/query?q=SELECT+Id+FROM+Invoice__c+WHERE+Name='x'&extra=1",
    ],
)
def test_the_q_parameter_is_required_once(client: Client, path: str) -> None:
    response = client.http.get(path, headers=login(client))
    assert response.status_code == 400 and error_code(response) == "MALFORMED_QUERY"


@pytest.mark.parametrize("version", ["v19.0", "v63.0", "v59.1", "59.0", "v59", "vx.0"])
def test_unknown_versions_are_not_found(client: Client, version: str) -> None:
    response = client.http.get(f"/services/data/{version}/query?q=x", headers=login(client))
    assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


def test_pages_follow_next_records_url(make_client: ClientFactory) -> None:
    client = make_client(FarmConfig(sf_query_page_size=2))
    headers = login(client)
    ids = ", ".join(f"'INV-{n}'" for n in range(1, 6))
    answer = body(soql(client, headers, f"SELECT Name FROM Invoice__c WHERE Name IN ({ids})"))
    names = [r["Name"] for r in answer["records"]]
    while not answer["done"]:
        assert answer["totalSize"] == 5
        answer = body(client.http.get(answer["nextRecordsUrl"], headers=headers))
        names += [r["Name"] for r in answer["records"]]
    assert names == [f"INV-{n}" for n in range(1, 6)]


@pytest.mark.parametrize("locator", ["nope", "01g0000000000000000-2", "01gabc-2"])
def test_unknown_locators_are_refused(client: Client, locator: str) -> None:
    response = client.http.get(f"/services/data/v59.0/query/{locator}", headers=login(client))
    assert response.status_code == 400 and error_code(response) == "INVALID_QUERY_LOCATOR"


def test_a_record_by_external_id_and_by_id(client: Client) -> None:
    headers = login(client)
    path = "/services/data/v59.0/sobjects/Invoice__c"
    record = body(client.http.get(f"{path}/Invoice_Number__c/INV-8", headers=headers))
    assert list(record) == ["attributes", *FIELDS]
    assert body(client.http.get(f"{path}/{record['Id']}", headers=headers)) == record
    for missing in ("Invoice_Number__c/INV-0", "Invoice_Number__c/..%2F", "Name/INV-8", "x"):
        response = client.http.get(f"{path}/{missing}", headers=headers)
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
    response = client.http.get("/services/data/v59.0/sobjects/Account/x", headers=headers)
    assert response.status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_data_routes_need_a_live_session(client: Client, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.http.get(QUERY + "x", headers=headers)
    assert response.status_code == 401 and error_code(response) == "INVALID_SESSION_ID"
    assert response.headers["Sforce-Limit-Info"] == "api-usage=0/100000"


def test_every_data_answer_carries_the_usage_and_the_limit_refuses(
    make_client: ClientFactory,
) -> None:
    client = make_client(FarmConfig(sf_daily_api_limit=2))
    headers = login(client)
    lookup = "SELECT Id FROM Invoice__c WHERE Name = 'INV-1'"
    seen = [soql(client, headers, lookup) for _ in range(3)]
    assert [r.status_code for r in seen] == [200, 200, 403]
    assert [r.headers["Sforce-Limit-Info"] for r in seen] == [
        "api-usage=1/2",
        "api-usage=2/2",
        "api-usage=2/2",
    ]
    assert error_code(seen[2]) == "REQUEST_LIMIT_EXCEEDED"


def test_injected_faults_apply_to_the_data_routes(make_client: ClientFactory) -> None:
    client = make_client(faults=FaultInjector(1.0, 0))
    response = soql(client, login(client), "SELECT Id FROM Invoice__c WHERE Name = 'INV-1'")
    assert response.status_code == 503 and error_code(response) == "SERVER_UNAVAILABLE"


def test_a_uri_past_16384_bytes_is_refused(client: Client) -> None:
    headers = login(client)
    ids = ", ".join(f"'INV-{n}'" for n in range(1, 1200))
    response = soql(client, headers, f"SELECT Id FROM Invoice__c WHERE Name IN ({ids})")
    assert response.status_code == 414
    padded = {**headers, "X-Padding": "p" * 9000}
    ids = ", ".join(f"'INV-{n}'" for n in range(1, 500))
    response = soql(client, padded, f"SELECT Id FROM Invoice__c WHERE Name IN ({ids})")
    assert response.status_code == 431


def test_sessions_expire_after_their_ttl() -> None:
    now = [100.0]
    sessions = SessionStore(60, clock=lambda: now[0])
    token = sessions.issue("http://farm")["access_token"]
    assert sessions.is_valid(f"Bearer {token}") and sessions.is_valid(f"OAuth {token}")
    now[0] += 59.9
    assert sessions.is_valid(f"Bearer {token}")
    now[0] += 0.1
    assert not sessions.is_valid(f"Bearer {token}")


def test_usage_resets_after_a_day() -> None:
    now = [0.0]
    usage = ApiUsage(1, clock=lambda: now[0])
    usage.count()
    with pytest.raises(FarmError) as caught:
        usage.count()
    assert caught.value.status == 403
    now[0] += 86_400
    usage.count()
    assert usage.header() == "api-usage=1/1"


@pytest.mark.parametrize("number", [0, 1, 61, 62, 1_000_000, 10**11, 62**9 - 1])
def test_record_ids_are_18_characters_and_reversible(number: int) -> None:
    value = record_id(number)
    assert len(value) == 18 and value.isalnum() and value.startswith("a0I")
    assert record_number(value) == number == record_number(value[:15])
    assert record_number(value[:15] + "AAB") is None or checksum(value[:15]) == "AAB"


def test_the_checksum_is_salesforces() -> None:
    assert checksum("001A0000006Vm9r") == "IAC"
