"""simple-salesforce, a client written elsewhere, against the farm served over TLS."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest
import requests
from chalicelib.catalogue import pristine_invoice
from chalicelib.config import FarmConfig
from chalicelib.salesforce_ids import record_id
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import token_login

from tests.integration.tls_farm import TlsFarm, serve_farm_tls

pytestmark = pytest.mark.integration

CLIENT_ID = "it-client"
CLIENT_SECRET = "it-secret-\u00e9"
CONFIG = FarmConfig(
    sf_client_id=CLIENT_ID,
    sf_client_secret=CLIENT_SECRET,
    sf_query_page_size=3,
    sf_session_ttl_s=2,
    sf_daily_api_limit=60,
)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFarm]:
    with serve_farm_tls(CONFIG, str(tmp_path_factory.mktemp("tls"))) as served:
        yield served


@pytest.fixture
def http(farm: TlsFarm) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.verify = farm.ca_file
    yield session
    session.close()


def login(farm: TlsFarm, http: requests.Session, secret: str = CLIENT_SECRET) -> Salesforce:
    """Client credentials through simple-salesforce's own token call (HTTP Basic)."""
    basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
    token, instance = token_login(
        f"{farm.url}/services/oauth2/token",
        {"grant_type": "client_credentials"},
        "farm",
        CLIENT_ID,
        {"Authorization": f"Basic {basic}"},
        None,
        http,
    )
    return Salesforce(session_id=token, instance_url=f"https://{instance}", session=http)


def test_the_token_names_the_farm_as_the_instance(farm: TlsFarm, http: requests.Session) -> None:
    sf = login(farm, http)
    assert sf.sf_instance == farm.url.removeprefix("https://")
    answer = http.post(
        f"{farm.url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    body = answer.json()
    assert answer.status_code == 200 and body["token_type"] == "Bearer"
    assert body["instance_url"] == farm.url
    assert set(body) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }


def test_wrong_credentials_fail_to_log_in(farm: TlsFarm, http: requests.Session) -> None:
    with pytest.raises(SalesforceAuthenticationFailed, match="invalid_client"):
        login(farm, http, secret="wrong")


def test_query_all_follows_next_records_url(farm: TlsFarm, http: requests.Session) -> None:
    sf = login(farm, http)
    ids = [f"INV-{n}" for n in (7, 1, 2, 999, 5, 3, 4, 0)]
    quoted = ", ".join(f"'{value}'" for value in ids)
    soql = (
        "SELECT Id, Invoice_Number__c, Vendor_Id__c FROM Invoice__c "
        f"WHERE Invoice_Number__c IN ({quoted})"
    )
    first = sf.query(soql)
    assert first["done"] is False and first["totalSize"] == 7
    assert len(first["records"]) == 3
    everything = sf.query_all(soql)
    numbers = [int(r["Invoice_Number__c"][4:]) for r in everything["records"]]
    assert numbers == [1, 2, 3, 4, 5, 7, 999]
    for record in everything["records"]:
        number = int(record["Invoice_Number__c"][4:])
        assert record["Id"] == record_id(number)
        assert record["Vendor_Id__c"] == pristine_invoice(number)["vendor_id"]
        assert record["attributes"]["type"] == "Invoice__c"


def test_get_by_custom_id_reads_the_full_record(farm: TlsFarm, http: requests.Session) -> None:
    sf = login(farm, http)
    record = sf.Invoice__c.get_by_custom_id("Invoice_Number__c", "INV-42")
    invoice = pristine_invoice(42)
    assert record["Total_Amount__c"] == invoice["total_amount"]
    assert record["Billing_City__c"] == invoice["billing_address"]["city"]
    assert record["Last_Modified__c"].startswith(invoice["last_modified"][:19])
    assert sf.Invoice__c.get(record["Id"])["Invoice_Number__c"] == "INV-42"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Invoice__c.get_by_custom_id("Invoice_Number__c", "INV-0")


def test_query_errors_reach_the_client(farm: TlsFarm, http: requests.Session) -> None:
    sf = login(farm, http)
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_FIELD"):
        sf.query("SELECT Nope__c FROM Invoice__c WHERE Invoice_Number__c = 'INV-1'")
    with pytest.raises(SalesforceMalformedRequest, match="MALFORMED_QUERY"):
        sf.query("SELECT Id FROM Invoice__c WHERE Invoice_Number__c = 'INV-1' OR Id != ''")
    hostile = "x\\' OR Name != \\'"
    assert sf.query(f"SELECT Id FROM Invoice__c WHERE Name = '{hostile}'")["totalSize"] == 0


def test_sessions_expire(farm: TlsFarm, http: requests.Session) -> None:
    sf = login(farm, http)
    sf.query("SELECT Id FROM Invoice__c WHERE Name = 'INV-1'")
    time.sleep(CONFIG.sf_session_ttl_s + 0.2)
    with pytest.raises(SalesforceExpiredSession, match="INVALID_SESSION_ID"):
        sf.query("SELECT Id FROM Invoice__c WHERE Name = 'INV-1'")


def test_limit_info_is_tracked_and_the_limit_enforced(tmp_path: str) -> None:
    config = FarmConfig(
        sf_client_id=CLIENT_ID, sf_client_secret=CLIENT_SECRET, sf_daily_api_limit=2
    )
    with serve_farm_tls(config, str(tmp_path)) as farm, requests.Session() as http:
        http.trust_env = False
        http.verify = farm.ca_file
        sf = login(farm, http)
        sf.query("SELECT Id FROM Invoice__c WHERE Name = 'INV-1'")
        sf.query("SELECT Id FROM Invoice__c WHERE Name = 'INV-1'")
        assert sf.api_usage["api-usage"].used == 2
        assert sf.api_usage["api-usage"].total == 2
        with pytest.raises(SalesforceRefusedRequest, match="REQUEST_LIMIT_EXCEEDED"):
            sf.query("SELECT Id FROM Invoice__c WHERE Name = 'INV-1'")
