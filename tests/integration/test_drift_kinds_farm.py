"""Each drift kind of the farm's stream, over real HTTP and real Redis, healed as it should be."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
import redis

from local.farm_server import FarmServer
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar
from tests.conftest import KeySpace
from tests.integration.test_sidecar_farm import Context

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("quiet_metrics")]

DECLARED = ("invoice_id", "total_amount", "vendor_id", "status")
NONE = {"renamed_share": "0", "string_number_share": "0", "case_share": "0", "empty_share": "0"}


def sidecar(keyspace: KeySpace, redis_url: str, farm_url: str, share: str) -> IngestSidecar:
    environ = {
        **keyspace.env(),
        "REDIS_URL": redis_url,
        "FARM_URL": farm_url,
        "AOS_VERIFY_SHARE": share,
    }
    return build_sidecar(Settings.from_env(environ))


def drifted_event(farm: FarmServer, seed: int, **shares: str) -> dict[str, Any]:
    params = {
        "chaos": "true",
        "limit": "300",
        "seed": str(seed),
        "drift_rate": "1",
        "malformed_rate": "0",
        **NONE,
        **shares,
    }
    page = httpx.get(f"{farm.url}/api/stream", params=params).json()
    return {
        "Records": [
            {"messageId": f"k{seed}-{r['sequence']}", "body": r["data"]} for r in page["records"]
        ]
    }


@pytest.mark.parametrize(
    ("shares", "hows"),
    [
        ({"renamed_share": "1"}, {"renamed:"}),
        ({"string_number_share": "1"}, {"coerced:string", "source_of_truth"}),
        ({"case_share": "1"}, {"case", "source_of_truth"}),
        ({"empty_share": "1"}, {"source_of_truth"}),
        ({}, {"source_of_truth"}),
    ],
    ids=["renamed", "number-as-text", "case", "empty", "missing-or-null"],
)
def test_each_kind_over_http_ends_equal_to_the_source_of_truth(
    shares: dict[str, str],
    hows: set[str],
    farm: FarmServer,
    keyspace: KeySpace,
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    event = drifted_event(farm, 21, **shares)
    report = sidecar(keyspace, redis_url, farm.url, "1").handle_batch(event, Context())
    assert report.failures == []
    assert report.drift.verify_disagreements == 0
    envelopes = [orjson.loads(f[b"envelope"]) for _, f in redis_client.xrange(keyspace.stream)]
    main = [e for e in envelopes if e["meta"]["is_repaired"]]
    assert len(main) == report.counts["repaired"] > 200
    seen = set()
    with httpx.Client(base_url=farm.url) as http:
        ids = ",".join(e["meta"]["record_id"] for e in main[:200])
        truths = {
            t["invoice_id"]: t
            for t in http.get(f"/api/source/salesforce/invoices?ids={ids}").json()
        }
    for envelope in main[:200]:
        payload, meta = envelope["payload"], envelope["meta"]
        truth = truths[meta["record_id"]]
        assert {f: payload[f] for f in DECLARED} == {f: truth[f] for f in DECLARED}
        assert set(meta["repairs"]) == set(meta["repaired_fields"])
        seen.update(
            h if not h.startswith("renamed:") else "renamed:" for h in meta["repairs"].values()
        )
        for how in meta["repairs"].values():
            if how.startswith("renamed:"):
                assert how.removeprefix("renamed:").split(".")[0] not in payload
    assert hows <= seen | {"source_of_truth"}
    assert seen & hows


def test_without_verification_certain_drift_costs_no_lookup(
    farm: FarmServer, keyspace: KeySpace, redis_url: str
) -> None:
    event = drifted_event(
        farm, 22, renamed_share="0.5", string_number_share="0.5", case_share="0.5"
    )
    report = sidecar(keyspace, redis_url, farm.url, "0").handle_batch(event, Context())
    assert report.failures == []
    assert report.drift.repaired_locally > 60
    assert report.drift.source_lookups + report.drift.repaired_locally == report.drifted - sum(
        1 for r in event["Records"] if "invoice_id" not in orjson.loads(r["body"])
    )
