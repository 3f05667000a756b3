"""The sidecar's Salesforce adapter against the farm's Salesforce routes over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import redis
from chalicelib.catalogue import pristine_invoice

from local.farm_server import FarmServer, start_farm
from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.schema import load_schema
from sidecar_fn.settings import Settings
from sidecar_fn.source_salesforce import SalesforceSourceOfTruth
from sidecar_fn.wiring import build_salesforce_source, build_sidecar
from tests.conftest import KeySpace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("quiet_metrics")]

FULL_SCHEMA = "sidecar_fn/schemas/invoice_full.json"
CREDENTIALS = {"SALESFORCE_CLIENT_ID": "aos-farm-dev-client",
               "SALESFORCE_CLIENT_SECRET": "aos-farm-dev-secret"}  # fmt: skip


def farm_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> FarmServer:
    """An in-process farm configured by `env` (FARM_* variables)."""
    for name in (
        "FARM_SF_SESSION_TTL_SECONDS",
        "FARM_SF_DAILY_API_LIMIT",
        "FARM_SF_QUERY_PAGE_SIZE",
        "FARM_SOT_FAILURE_RATE",
        "FARM_API_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return start_farm()


def salesforce_settings(farm: FarmServer, **env: str) -> Settings:
    return Settings.from_env(
        {
            "AOS_SOT_KIND": "salesforce",
            "SALESFORCE_LOGIN_URL": farm.url,
            "AOS_SOT_BACKOFF_SECONDS": "0",
            **CREDENTIALS,
            **env,
        }
    )


def source_for(farm: FarmServer, **env: str) -> SalesforceSourceOfTruth:
    return build_salesforce_source(salesforce_settings(farm, **env), load_schema(FULL_SCHEMA))


@pytest.fixture
def paged_farm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FarmServer]:
    with farm_with(monkeypatch, FARM_SF_QUERY_PAGE_SIZE="7") as farm:
        yield farm


def test_unknown_and_hostile_ids_over_http(paged_farm: FarmServer) -> None:
    source = source_for(paged_farm)
    hostile = [
        "INV-1' OR Name != '",
        "INV-1\\' OR Name != \\'",
        "INV-2') OR ('1'='1",
        "INV-1%27",
        "INV-\u0661",
        "INV-1\r\nX-Injected: 1",
    ]
    known = [f"INV-{n}" for n in (3, 1, 999_999)]
    answer = source.fetch_many([*hostile, *known, "INV-0", "INV-1000001", "INV-00001"])
    assert {i: answer[i] for i in hostile} == dict.fromkeys(hostile)
    assert {i: answer[i] for i in known} == {i: pristine_invoice(int(i[4:])) for i in known}
    assert answer["INV-0"] is None and answer["INV-1000001"] is None
    assert answer["INV-00001"] is None
    source.close()


def test_pagination_over_http(paged_farm: FarmServer) -> None:
    source = source_for(paged_farm, AOS_SOT_CHUNK_SIZE="50", AOS_SOT_CONCURRENCY="3")
    ids = [f"INV-{n}" for n in range(1, 121)]
    answer = source.fetch_many(ids)
    assert answer == {i: pristine_invoice(int(i[4:])) for i in ids}
    assert source.queries == 3
    assert source.pages == 8 + 8 + 3
    assert source.usage is not None and source.usage.used == 19
    source.close()


def test_token_expiry_mid_run_refreshes_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with farm_with(monkeypatch, FARM_SF_SESSION_TTL_SECONDS="1") as farm:
        source = source_for(farm, AOS_SOT_CHUNK_SIZE="20")
        answered: dict[str, Any] = {}
        started = time.monotonic()
        batch = 0
        while time.monotonic() - started < 3.5:
            ids = [f"INV-{batch * 60 + n}" for n in range(1, 61)]
            answered.update(source.fetch_many(ids))
            batch += 1
            time.sleep(0.1)
        assert len(answered) == batch * 60
        assert all(answered[i] == pristine_invoice(int(i[4:])) for i in answered)
        assert source.sessions.logins >= 3
        source.close()


def test_limit_exceeded_hands_back_and_opens_the_breaker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with farm_with(monkeypatch, FARM_SF_DAILY_API_LIMIT="2") as farm:
        source = source_for(farm)
        source.fetch_many(["INV-1"])
        source.fetch_many(["INV-2"])
        with pytest.raises(SourceUnavailable, match="REQUEST_LIMIT_EXCEEDED"):
            source.fetch_many(["INV-3"])
        assert source.breaker.is_open
        assert source.usage is not None and (source.usage.used, source.usage.limit) == (2, 2)
        source.close()


def test_the_sidecar_repairs_from_salesforce_and_hands_back_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
    keyspace: KeySpace,
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    with farm_with(monkeypatch, FARM_SF_DAILY_API_LIMIT="1") as farm:
        page = httpx.get(
            f"{farm.url}/api/stream", params={"chaos": "true", "limit": "300", "seed": "3"}
        ).json()
        records = [{"messageId": f"m{r['sequence']}", "body": r["data"]} for r in page["records"]]
        settings = salesforce_settings(
            farm, REDIS_URL=redis_url, AOS_SCHEMA=FULL_SCHEMA, **keyspace.env()
        )
        sidecar = build_sidecar(settings)
        first = sidecar.handle_batch({"Records": records[:150]})
        assert first.counts["repaired"] > 0 and first.counts["failed"] == 0
        envelopes = [orjson.loads(f[b"envelope"]) for _, f in redis_client.xrange(keyspace.stream)]
        repaired = [e for e in envelopes if e["meta"]["is_repaired"]]
        assert len(repaired) == first.counts["repaired"] > 0
        for envelope in envelopes:
            payload = envelope["payload"]
            assert payload == pristine_invoice(int(payload["invoice_id"][4:]))
        second = sidecar.handle_batch({"Records": records[150:]})
        assert second.drift.source_lookups > 0
        assert len(second.failures) == second.drift.source_lookups
        assert not any(r == "retries_exhausted" for r in second.outcomes.values())
