"""The per-record reference keeps the contract: outcomes, envelopes, one GET per drifted record."""

from __future__ import annotations

import fakeredis
import httpx
import orjson
import pytest

from bench.events import sqs_event
from bench.per_record import PerRecordSidecar, ReferenceConfig

PRISTINE = {
    "INV-1": {
        "invoice_id": "INV-1",
        "vendor_id": "V-9",
        "vendor_name": "Acme",
        "total_amount": 12.5,
        "currency": "EUR",
        "status": "PAID",
    },
    "INV-2": {"invoice_id": "INV-2", "vendor_id": None, "total_amount": 3, "status": "DRAFT"},
}


class FakeSoT:
    """The single-invoice route over a tiny catalogue; counts requests; can be down."""

    def __init__(self, down: bool = False) -> None:
        self.requests: list[str] = []
        self.down = down

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if self.down:
            return httpx.Response(503, json=[{"errorCode": "SERVER_UNAVAILABLE"}])
        invoice_id = request.url.path.rsplit("/", 1)[-1]
        if invoice_id not in PRISTINE:
            return httpx.Response(404, json=[{"errorCode": "NOT_FOUND", "message": "no"}])
        return httpx.Response(200, json=PRISTINE[invoice_id])


@pytest.fixture
def redis_client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def make(redis_client: fakeredis.FakeRedis, sot: FakeSoT) -> PerRecordSidecar:
    config = ReferenceConfig(
        source_id="src", stream="main", dlq_stream="dlq", farm_url="http://sot.test"
    )
    http = httpx.Client(transport=httpx.MockTransport(sot))
    return PerRecordSidecar(
        config, redis_client=redis_client, http_client=http, sleep=lambda _: None
    )


def envelopes(client: fakeredis.FakeRedis) -> list[dict[str, object]]:
    return [orjson.loads(fields[b"envelope"]) for _, fields in client.xrange("main")]


def test_clean_record_goes_to_main_stream_without_a_request(
    redis_client: fakeredis.FakeRedis,
) -> None:
    sot = FakeSoT()
    body = orjson.dumps(PRISTINE["INV-1"]).decode()
    report = make(redis_client, sot).handle_batch(sqs_event([body], "m"))
    assert report.counts["clean"] == 1
    assert sot.requests == []
    (envelope,) = envelopes(redis_client)
    assert envelope["payload"] == PRISTINE["INV-1"]
    meta = envelope["meta"]
    assert isinstance(meta, dict)
    assert meta["is_repaired"] is False
    assert meta["item_id"] == "m-00000"
    assert meta["record_id"] == "INV-1"


def test_drifted_record_is_repaired_with_one_get(redis_client: fakeredis.FakeRedis) -> None:
    sot = FakeSoT()
    drifted = {k: v for k, v in PRISTINE["INV-1"].items() if k != "vendor_id"}
    drifted["status"] = None
    report = make(redis_client, sot).handle_batch(sqs_event([orjson.dumps(drifted).decode()]))
    assert report.counts["repaired"] == 1
    assert sot.requests == ["/api/source/salesforce/invoice/INV-1"]
    (envelope,) = envelopes(redis_client)
    meta = envelope["meta"]
    assert isinstance(meta, dict)
    assert meta["repaired_fields"] == ["vendor_id", "status"]
    assert meta["is_repaired"] is True
    assert envelope["payload"] == PRISTINE["INV-1"]


@pytest.mark.parametrize(
    ("body", "reason", "requests"),
    [
        ("{not json", "malformed", 0),
        ("[1, 2]", "malformed", 0),
        ('{"invoice_id": "INV-77", "total_amount": 1, "status": "PAID"}', "unrepairable", 1),
        ('{"total_amount": 1, "vendor_id": "V", "status": "PAID"}', "unrepairable", 0),
        ('{"invoice_id": "INV-2", "total_amount": 1, "status": "PAID"}', "unrepairable", 1),
    ],
)
def test_dead_letters(
    redis_client: fakeredis.FakeRedis, body: str, reason: str, requests: int
) -> None:
    sot = FakeSoT()
    report = make(redis_client, sot).handle_batch(sqs_event([body], "d"))
    assert report.counts[reason] == 1
    assert len(sot.requests) == requests
    assert redis_client.xlen("main") == 0
    ((_, fields),) = redis_client.xrange("dlq")
    assert fields[b"reason"] == reason.encode()
    assert fields[b"raw"] == body.encode()
    assert fields[b"item_id"] == b"d-00000"


def test_duplicate_item_writes_one_entry(redis_client: fakeredis.FakeRedis) -> None:
    sot = FakeSoT()
    event = sqs_event([orjson.dumps(PRISTINE["INV-1"]).decode()], "dup")
    event["Records"] *= 2
    report = make(redis_client, sot).handle_batch(event)
    assert report.counts["clean"] == 2
    assert redis_client.xlen("main") == 1


def test_source_down_reports_the_item_for_redelivery(redis_client: fakeredis.FakeRedis) -> None:
    sot = FakeSoT(down=True)
    drifted = {k: v for k, v in PRISTINE["INV-1"].items() if k != "vendor_id"}
    report = make(redis_client, sot).handle_batch(sqs_event([orjson.dumps(drifted).decode()], "x"))
    assert report.lambda_response() == {"batchItemFailures": [{"itemIdentifier": "x-00000"}]}
    assert len(sot.requests) == 3
    assert redis_client.xlen("main") == 0
    assert redis_client.keys("aos:seen:*") == []
