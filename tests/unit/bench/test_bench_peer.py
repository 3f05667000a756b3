"""The Powertools peer keeps the contract: outcomes, envelopes, idempotent redelivery."""

from __future__ import annotations

import fakeredis
import httpx
import orjson
import pytest

from bench.events import LambdaContext, sqs_event
from bench.peer import PeerConfig, PowertoolsPeer

PRISTINE = {
    "INV-1": {"invoice_id": "INV-1", "vendor_id": "V-9", "total_amount": 12.5, "status": "PAID"},
}


class FakeSoT:
    """The single-invoice route over a tiny catalogue; counts requests; can be down."""

    def __init__(self, down: bool = False) -> None:
        self.requests: list[str] = []
        self.down = down

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if self.down:
            return httpx.Response(503)
        invoice_id = request.url.path.rsplit("/", 1)[-1]
        if invoice_id not in PRISTINE:
            return httpx.Response(404)
        return httpx.Response(200, json=PRISTINE[invoice_id])


@pytest.fixture
def redis_client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def make(redis_client: fakeredis.FakeRedis, sot: FakeSoT) -> PowertoolsPeer:
    config = PeerConfig(source_id="src", stream="main", dlq_stream="dlq", farm_url="http://sot")
    http = httpx.Client(transport=httpx.MockTransport(sot))
    return PowertoolsPeer(config, redis_client=redis_client, http_client=http, sleep=lambda _: None)


BODIES = [
    orjson.dumps(PRISTINE["INV-1"]).decode(),
    orjson.dumps({"invoice_id": "INV-1", "total_amount": 12.5, "status": "PAID"}).decode(),
    orjson.dumps({"invoice_id": "INV-7", "total_amount": 1, "status": "PAID"}).decode(),
    "{not json",
]


def test_outcomes_and_streams(redis_client: fakeredis.FakeRedis) -> None:
    sot = FakeSoT()
    report = make(redis_client, sot).handle_batch(sqs_event(BODIES, "m"), LambdaContext())
    assert report.counts == {
        "clean": 1,
        "repaired": 1,
        "unrepairable": 1,
        "malformed": 1,
        "failed": 0,
    }
    assert report.lambda_response() == {"batchItemFailures": []}
    assert len(sot.requests) == 2
    main = [orjson.loads(fields[b"envelope"]) for _, fields in redis_client.xrange("main")]
    assert main[1]["payload"]["vendor_id"] == "V-9"
    assert main[1]["meta"]["repaired_fields"] == ["vendor_id"]
    reasons = [fields[b"reason"] for _, fields in redis_client.xrange("dlq")]
    assert reasons == [b"unrepairable", b"malformed"]


def test_redelivery_writes_nothing_and_answers_the_first_outcome(
    redis_client: fakeredis.FakeRedis,
) -> None:
    peer = make(redis_client, FakeSoT())
    event = sqs_event(BODIES, "m")
    first = peer.handle_batch(event, LambdaContext())
    second = peer.handle_batch(event, LambdaContext())
    assert second.counts == first.counts
    assert redis_client.xlen("main") == 2
    assert redis_client.xlen("dlq") == 2


def test_source_down_hands_the_drifted_record_back(redis_client: fakeredis.FakeRedis) -> None:
    peer = make(redis_client, FakeSoT(down=True))
    event = sqs_event(BODIES[:2], "m")
    report = peer.handle_batch(event, LambdaContext())
    assert report.lambda_response() == {"batchItemFailures": [{"itemIdentifier": "m-00001"}]}
    assert report.counts["failed"] == 1
    assert redis_client.xlen("main") == 1
