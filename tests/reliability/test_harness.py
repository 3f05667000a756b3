"""The suite's own instruments work: the hostile source of truth and the restartable Redis."""

from __future__ import annotations

import json

import httpx
import pytest

from .batches import mixed_items
from .evil_sot import BATCH_PATH, EvilSourceOfTruth, RecordingServer, pristine_invoice
from .ledger import expected_outcome
from .redis_server import PrivateRedis

pytestmark = pytest.mark.reliability


def test_honest_answers_align_with_ids(evil_sot: EvilSourceOfTruth) -> None:
    response = httpx.get(f"{evil_sot.url}{BATCH_PATH}", params={"ids": "INV-1,INV-9999999"})
    assert response.status_code == 200
    assert response.json() == [pristine_invoice("INV-1"), None]
    assert evil_sot.requests[0].ids == ["INV-1", "INV-9999999"]
    assert evil_sot.unintended() == []


@pytest.mark.parametrize(
    ("behaviour", "status"),
    [("limit", 403), ("unavailable", 503), ("garbage", 200), ("redirect", 302)],
)
def test_hostile_answers(evil_sot: EvilSourceOfTruth, behaviour: str, status: int) -> None:
    evil_sot.set(behaviour)
    response = httpx.get(f"{evil_sot.url}{BATCH_PATH}", params={"ids": "INV-1"})
    assert response.status_code == status
    if behaviour == "limit":
        assert response.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    if behaviour == "redirect":
        assert not response.headers["location"].startswith(evil_sot.url)


def test_wrong_invoice_and_truncation(evil_sot: EvilSourceOfTruth) -> None:
    evil_sot.set("wrong_invoice")
    body = httpx.get(f"{evil_sot.url}{BATCH_PATH}", params={"ids": "INV-5"}).json()
    assert body[0]["invoice_id"] == "INV-6"
    evil_sot.set("truncated_json")
    text = httpx.get(f"{evil_sot.url}{BATCH_PATH}", params={"ids": "INV-5"}).text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    evil_sot.set("short_body")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{evil_sot.url}{BATCH_PATH}", params={"ids": "INV-5"})


def test_unintended_requests_are_flagged(evil_sot: EvilSourceOfTruth) -> None:
    httpx.get(f"{evil_sot.url}/api/source/salesforce/invoice/..%2F..%2Fadmin")
    httpx.get(f"{evil_sot.url}/admin")
    assert len(evil_sot.unintended()) == 2


def test_bystander_records(bystander: RecordingServer) -> None:
    httpx.get(f"{bystander.url}/x?y=1")
    assert [(r.path, r.query) for r in bystander.requests] == [("/x", "y=1")]


def test_private_redis_keeps_data_across_kill_and_restart(private_redis: PrivateRedis) -> None:
    client = private_redis.client()
    client.xadd("s", {"k": "v"})
    client.close()
    private_redis.kill()
    private_redis.start()
    client = private_redis.client()
    assert client.xlen("s") == 1
    client.close()


def test_oracle_covers_every_outcome() -> None:
    outcomes = {expected_outcome(raw) for _, raw in mixed_items("x", 10)}
    assert outcomes == {"clean", "repaired", "malformed", "unrepairable"}
