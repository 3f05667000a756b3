"""The sidecar on a real three-primary Redis Cluster: one slot per batch, failover mid-run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import orjson
import pytest
import redis
from redis.cluster import RedisCluster

from local.events import sqs_record
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar
from tests.integration.redis_cluster import LocalCluster
from tests.unit.sidecar.fakes import CapturedLogger, FakeSource, RecordingMetrics, pristine

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOURCE = "mulesoft-invoices"
STREAM, DLQ = "aos:{mulesoft-invoices}:invoices", "aos:{mulesoft-invoices}:invoices:dlq"
BATCHES, BATCH_SIZE = 40, 25


def sidecar_on(cluster: LocalCluster, port: int, **env: str) -> IngestSidecar:
    settings = Settings.from_env(
        {"REDIS_URL": cluster.url(port), "AOS_REDIS_CLUSTER": "true", "AOS_SOURCE_ID": SOURCE} | env
    )
    assert (settings.stream, settings.dlq_stream) == (STREAM, DLQ)
    return build_sidecar(
        settings, source=FakeSource(), metrics=RecordingMetrics(), logger=CapturedLogger().logger
    )


def body(n: int) -> str:
    return "not json {" if n % 10 == 9 else orjson.dumps(pristine(f"INV-{n + 1}")).decode()


def deliver(sidecar: IngestSidecar, ids: list[str], *, attempts: int = 40) -> int:
    """Deliver `ids` as Lambda would until none is handed back; returns the deliveries."""
    pending = ids
    for attempt in range(1, attempts + 1):
        event = {"Records": [sqs_record(i, body(int(i.split("-")[1]))) for i in pending]}
        failed = set(sidecar.handle_batch(event).failures)
        pending = [i for i in pending if i in failed]
        if not pending:
            return attempt
        time.sleep(0.25)
    raise AssertionError(f"{len(pending)} records still handed back after {attempts} deliveries")


def item_ids(client: RedisCluster) -> tuple[list[str], list[str]]:
    main = [
        orjson.loads(fields[b"envelope"])["meta"]["item_id"] for _, fields in client.xrange(STREAM)
    ]
    dead = [fields[b"item_id"].decode() for _, fields in client.xrange(DLQ)]
    return main, dead


def test_settings_refuse_cluster_streams_without_a_common_hash_tag() -> None:
    from sidecar_fn.errors import SettingsError

    with pytest.raises(SettingsError, match="share a hash tag"):
        Settings.from_env({"AOS_REDIS_CLUSTER": "true", "AOS_STREAM": "aos:invoices"})


def test_a_batch_touches_one_slot_from_any_node(cluster: LocalCluster) -> None:
    owner = cluster.owner_of(STREAM)
    elsewhere = next(p for p in cluster.primaries_seen_by(owner) if p != owner)
    sidecar = sidecar_on(cluster, elsewhere)
    ids = [f"m-{n}" for n in range(50)]

    assert deliver(sidecar, ids) == 1
    again = sidecar.handle_batch({"Records": [sqs_record(i, body(int(i[2:]))) for i in ids]})

    client = RedisCluster.from_url(cluster.url())
    main, dead = item_ids(client)
    assert sorted(main + dead) == sorted(ids) and len(dead) == 5
    assert again.duplicates == 50 and again.failures == []
    seen = list(cluster.node(owner).scan_iter(match="aos:seen:*", count=1000))
    assert len(seen) == 50
    slots = {client.keyslot(key) for key in [STREAM, DLQ, *seen]}
    assert slots == {client.keyslot(STREAM)}
    client.close()


def run_with_fault(
    cluster: LocalCluster, sidecar: IngestSidecar, fault: Callable[[], None]
) -> tuple[list[str], int]:
    """Deliver BATCHES batches from a worker; run `fault` once a quarter of them are done."""
    done = threading.Event()
    progress: list[int] = []
    errors: list[BaseException] = []
    redeliveries = 0

    def work() -> None:
        nonlocal redeliveries
        try:
            for b in range(BATCHES):
                ids = [f"m-{b * BATCH_SIZE + n}" for n in range(BATCH_SIZE)]
                redeliveries += deliver(sidecar, ids) - 1
                progress.append(b)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 60
    while len(progress) < BATCHES // 4 and time.monotonic() < deadline and not done.is_set():
        time.sleep(0.01)
    assert len(progress) < BATCHES, "the run ended before the fault"
    fault()
    worker.join(timeout=180)
    assert not worker.is_alive()
    assert not errors, errors
    return [f"m-{n}" for n in range(BATCHES * BATCH_SIZE)], redeliveries


def assert_exactly_once(cluster: LocalCluster, ids: list[str]) -> None:
    client = RedisCluster.from_url(cluster.url(cluster.replica_of(cluster.owner_of(STREAM))))
    main, dead = item_ids(client)
    assert len(main) == len(set(main)), "an item was written twice"
    missing = sorted(set(ids) - set(main + dead), key=lambda i: int(i[2:]))
    marked = [i for i in missing if client.exists(f"aos:seen:{{{SOURCE}}}:{i}")]
    assert not missing, f"missing {missing[:3]}..{missing[-3:]} ({len(marked)} with markers)"
    client.close()


def test_coordinated_failover_of_the_slot_owner_mid_run(cluster: LocalCluster) -> None:
    owner = cluster.owner_of(STREAM)
    replica = cluster.replica_of(owner)
    sidecar = sidecar_on(cluster, owner, AOS_REDIS_WAIT_REPLICAS="1")

    def failover() -> None:
        # A manual failover gives up after 5 s when the replica cannot catch up in time
        # (a busy machine): ask again until the replica owns the slot.
        for _ in range(5):
            assert cluster.node(replica).cluster("failover")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if cluster.node(replica).execute_command("ROLE")[0] == b"master":
                    cluster.wait_healthy()
                    return
                time.sleep(0.1)
        raise AssertionError("the replica never took over")

    ids, redeliveries = run_with_fault(cluster, sidecar, failover)
    print(f"coordinated failover: {redeliveries} redeliveries")

    assert cluster.owner_of(STREAM) == replica
    assert_exactly_once(cluster, ids)


@pytest.mark.parametrize("part", ["100", "5"], ids=["one-call", "pipelined-parts"])
def test_killed_slot_owner_mid_run_loses_nothing_with_wait_replicas(
    part: str, cluster: LocalCluster
) -> None:
    """With parts of 5 records, each 25-record batch is five pipelined script calls, in
    flight when the owner dies."""
    owner = cluster.owner_of(STREAM)
    replica = cluster.replica_of(owner)
    sidecar = sidecar_on(cluster, replica, AOS_REDIS_WAIT_REPLICAS="1", AOS_WRITE_PART_RECORDS=part)

    def kill_then_replace() -> None:
        cluster.kill(owner)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if cluster.owner_of(STREAM) == replica:
                    break
            except (AssertionError, redis.RedisError):
                pass
            time.sleep(0.2)
        cluster.start_node(owner)  # comes back as a replica of the promoted node
        cluster.wait_healthy()

    ids, redeliveries = run_with_fault(cluster, sidecar, kill_then_replace)

    assert redeliveries > 0, "the kill did not hit the run"
    print(f"killed primary: {redeliveries} redeliveries")
    assert cluster.owner_of(STREAM) == replica
    assert cluster.replica_of(replica) == owner
    assert_exactly_once(cluster, ids)
