"""The real trigger path on moto: farm pages -> SQS publisher -> SQS source -> real sidecar."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
import pytest
import redis

from local import publish_to_sqs
from local.farm_server import FarmServer, start_farm
from local.sqs_source import run_sqs_source
from sidecar_fn.secrets import clear_cache as clear_token_cache
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar
from tests.conftest import KeySpace
from tests.integration.sqs_queues import REGION, drain, make_queues

pytestmark = pytest.mark.integration


def farm_records(farm_url: str, *, count: int, seed: int, chaos: bool) -> list[str]:
    answer = httpx.get(
        f"{farm_url}/api/stream",
        params={"chaos": str(chaos).lower(), "seed": seed, "cursor": 0, "limit": count},
    )
    answer.raise_for_status()
    return [r["data"] for r in answer.json()["records"]]


def real_sidecar(redis_url: str, farm_url: str, keyspace: KeySpace) -> IngestSidecar:
    env = {"REDIS_URL": redis_url, "FARM_URL": farm_url, **keyspace.env()}
    return build_sidecar(Settings.from_env(env))


def test_publisher_cli_moves_farm_records_into_the_queue(
    sqs: Any, farm: FarmServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_queues(sqs, visibility_timeout=30).url
    argv = ["--queue-url", url, "--count", "45", "--farm-url", farm.url, "--seed", "7", "--json"]

    status = publish_to_sqs.main(argv)

    assert status == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary == {
        "read": 45,
        "sent": 45,
        "rejected": 0,
        "rejected_sequences": [],
        "next_cursor": 45,
    }
    messages = drain(sqs, url)
    by_sequence = {int(m["MessageAttributes"]["aos_sequence"]["StringValue"]): m for m in messages}
    assert sorted(by_sequence) == list(range(45))
    expected = farm_records(farm.url, count=45, seed=7, chaos=True)
    assert [by_sequence[i]["Body"] for i in range(45)] == expected
    assert {m["MessageAttributes"]["aos_seed"]["StringValue"] for m in messages} == {"7"}


def test_publisher_cli_starts_a_farm_when_none_is_given(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_queues(sqs, visibility_timeout=30).url

    status = publish_to_sqs.main(["--queue-url", url, "--count", "5", "--no-chaos"])

    assert status == 0
    assert "sent 5" in capsys.readouterr().out
    bodies = [json.loads(m["Body"]) for m in drain(sqs, url)]
    assert len(bodies) == 5
    assert all(isinstance(b, dict) and b.get("invoice_id") for b in bodies)


def test_publisher_cli_reports_setup_errors_in_one_line(
    sqs: Any, farm: FarmServer, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"

    status = publish_to_sqs.main(["--queue-url", missing, "--count", "3", "--farm-url", farm.url])

    assert status == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("publish_to_sqs: ")
    assert "Traceback" not in err[0]


def test_real_sidecar_drains_the_queue_into_the_streams(
    sqs: Any,
    farm: FarmServer,
    redis_url: str,
    redis_client: redis.Redis,
    keyspace: KeySpace,
) -> None:
    queues = make_queues(sqs, visibility_timeout=30)
    url, dlq_url = queues.url, queues.dlq_url
    count = 120
    report = publish_to_sqs.publish_stream(
        publish_to_sqs.FarmStream(farm.url, chaos=True, seed=3).fetch,
        url,
        count=count,
        seed=3,
        chaos=True,
        sqs_client=sqs,
    )
    assert report.sent == count
    sidecar = real_sidecar(redis_url, farm.url, keyspace)

    totals = run_sqs_source(url, sidecar, batch_size=10, sqs_client=sqs, wait_seconds=0)

    assert totals["received"] == totals["deleted"] == count
    assert totals["failed"] == 0
    outcomes = sum(totals[k] for k in ("clean", "repaired", "malformed", "unrepairable"))
    assert outcomes == count
    assert totals["repaired"] > 0
    assert totals["malformed"] > 0
    main = redis_client.xlen(keyspace.stream)
    dead = redis_client.xlen(keyspace.dlq_stream)
    assert main == totals["clean"] + totals["repaired"]
    assert dead == totals["malformed"] + totals["unrepairable"]
    assert main + dead == count
    assert drain(sqs, url) == []
    assert drain(sqs, dlq_url) == []
    entries = redis_client.xrange(keyspace.stream)
    item_ids = {json.loads(fields[b"envelope"])["meta"]["item_id"] for _, fields in entries}
    assert len(item_ids) == main


def test_redelivered_messages_are_not_pushed_twice(
    sqs: Any,
    farm: FarmServer,
    redis_url: str,
    redis_client: redis.Redis,
    keyspace: KeySpace,
) -> None:
    url = make_queues(sqs, visibility_timeout=60).url
    bodies = farm_records(farm.url, count=20, seed=11, chaos=False)
    for start in range(0, 20, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start:][:10])],
        )
    sidecar = real_sidecar(redis_url, farm.url, keyspace)
    calls: list[dict[str, Any]] = []

    class LosesDeletes:
        """Processes the batch, then fails as an invocation that timed out after its writes."""

        def handle_batch(self, event: dict[str, Any], context: Any) -> Any:
            calls.append(event)
            sidecar.handle_batch(event, context)
            raise TimeoutError("invocation timed out after the writes")

    lost = run_sqs_source(url, LosesDeletes(), batch_size=10, sqs_client=sqs, wait_seconds=0)
    assert (lost["received"], lost["deleted"], lost["errors"]) == (20, 0, 2)
    assert redis_client.xlen(keyspace.stream) == 20
    for event in calls:
        for record in event["Records"]:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
            )

    totals = run_sqs_source(url, sidecar, batch_size=10, sqs_client=sqs, wait_seconds=0)

    assert totals["received"] == totals["deleted"] == 20
    assert totals["clean"] == 20
    assert redis_client.xlen(keyspace.stream) == 20
    assert drain(sqs, url) == []


def test_messages_the_sidecar_cannot_finish_end_in_the_dead_letter_queue(
    sqs: Any,
    redis_url: str,
    redis_client: redis.Redis,
    keyspace: KeySpace,
    farm: FarmServer,
) -> None:
    queues = make_queues(sqs, visibility_timeout=0, max_receive_count=2)
    url, dlq_url = queues.url, queues.dlq_url
    drifted = json.dumps({"invoice_id": "INV-42", "total_amount": 10, "status": "PAID"})
    clean = farm_records(farm.url, count=3, seed=5, chaos=False)
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate([*clean, drifted])],
    )
    with start_farm(env={"FARM_SOT_FAILURE_RATE": "1"}) as broken_farm:
        env = {
            "REDIS_URL": redis_url,
            "FARM_URL": broken_farm.url,
            "AOS_SOT_MAX_ATTEMPTS": "1",
            "AOS_SOT_BUDGET_SECONDS": "2",
            **keyspace.env(),
        }
        sidecar = build_sidecar(Settings.from_env(env))

        totals = run_sqs_source(url, sidecar, batch_size=10, sqs_client=sqs, wait_seconds=0)

    dead = drain(sqs, dlq_url)
    assert [m["Body"] for m in dead] == [drifted]
    assert totals["deleted"] == 3
    assert totals["failed"] == 2
    assert redis_client.xlen(keyspace.stream) == 3
    assert redis_client.xlen(keyspace.dlq_stream) == 0
    assert totals["clean"] == 3


def test_token_secret_as_the_template_stores_it_authorises_repairs(
    sqs: Any,
    redis_url: str,
    redis_client: redis.Redis,
    keyspace: KeySpace,
    capfd: pytest.CaptureFixture[str],
) -> None:
    token = "Zq8vW2mK4pX9tR7nB3cY6hL1dF5gJ0sA8eU2iO4kM7wQ9zT3"
    secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="aos-sidecar/farm-api-token", SecretString=token
    )["ARN"]
    url = make_queues(sqs, visibility_timeout=30).url
    drifted = json.dumps({"invoice_id": "INV-42", "total_amount": 10, "status": "PAID"})
    sqs.send_message(QueueUrl=url, MessageBody=drifted)
    with start_farm(env={"FARM_API_TOKEN": token}) as secured_farm:
        unauthorised = httpx.get(f"{secured_farm.url}/api/source/salesforce/invoice/INV-1")
        assert unauthorised.status_code == 401
        env = {
            "REDIS_URL": redis_url,
            "FARM_URL": secured_farm.url,
            "FARM_API_TOKEN_SECRET_ARN": secret_arn,
            **keyspace.env(),
        }
        try:
            sidecar = build_sidecar(Settings.from_env(env))
            totals = run_sqs_source(url, sidecar, sqs_client=sqs, wait_seconds=0)
        finally:
            clear_token_cache()

    assert totals["repaired"] == 1
    assert totals["deleted"] == 1
    ((_, fields),) = redis_client.xrange(keyspace.stream)
    meta = json.loads(fields[b"envelope"])["meta"]
    assert "vendor_id" in meta["repaired_fields"]
    captured = capfd.readouterr()
    assert token not in captured.out + captured.err
