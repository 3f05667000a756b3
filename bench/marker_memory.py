"""`python -m bench.marker_memory`: Redis memory and server time per record, for docs/sizing.md.

Starts a private redis-server (no persistence) on --port, writes --records records through
the real RedisStreamSink in batches, and reads INFO memory before and after: bytes per
record for the stream entry and for the idempotency marker (at the default TTL), and the
server's microseconds per batch call (INFO commandstats). Then the same markers as
time-bucketed hashes (one hash per day, a field per item), the compact alternative.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import redis

from sidecar_fn.envelope import build_meta
from sidecar_fn.keys import key_names
from sidecar_fn.ports import CLEAN, SinkEntry
from sidecar_fn.redis_sink import RedisStreamSink
from sidecar_fn.settings import SEVEN_DAYS_S

SOURCE = "mulesoft-invoices"
STREAM, DLQ = f"aos:{{{SOURCE}}}:invoices", f"aos:{{{SOURCE}}}:invoices:dlq"
RECEIVED_AT = "2026-01-01T00:00:00.000Z"


@contextmanager
def private_server(port: int) -> Iterator[redis.Redis]:
    """A throwaway redis-server on 127.0.0.1:`port`, no persistence."""
    workdir = tempfile.mkdtemp(prefix="aos-bench-memory-")
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", workdir]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def invoice(n: int) -> dict[str, Any]:
    """A complete invoice like the farm's (about 330 bytes of JSON)."""
    return {
        "invoice_id": f"INV-{n:07d}",
        "vendor_id": f"VEND-{n % 977:04d}",
        "vendor_name": f"Vendor {n % 977}",
        "total_amount": round(n * 1.25, 2),
        "currency": "USD",
        "status": ("DRAFT", "SUBMITTED", "APPROVED", "PAID", "VOID")[n % 5],
        "issue_date": "2025-01-01",
        "billing_address": {
            "street": "1 Main Street",
            "city": "Austin",
            "postal_code": "78701",
            "country": "US",
        },
        "last_modified": "2025-01-02T00:00:00Z",
    }


def entries(start: int, count: int) -> list[SinkEntry]:
    """Clean entries with SQS-like message ids (UUIDs) and real envelopes."""
    batch = []
    for n in range(start, start + count):
        item_id = str(uuid.UUID(int=n, version=4))
        record = invoice(n)
        meta = build_meta(
            source_id=SOURCE,
            item_id=item_id,
            record_id=record["invoice_id"],
            received_at=RECEIVED_AT,
        )
        batch.append(SinkEntry(item_id, CLEAN, orjson.dumps({"meta": meta, "payload": record}), ""))
    return batch


def used_memory(client: redis.Redis) -> int:
    client.memory_purge()
    return int(client.info("memory")["used_memory"])


def evalsha_usec(client: redis.Redis) -> tuple[int, float]:
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    return int(stats.get("calls", 0)), float(stats.get("usec", 0))


def measure_sink(client: redis.Redis, records: int, batch: int) -> dict[str, float]:
    """Bytes per record (stream entry, marker) and server microseconds per batch call."""
    sink = RedisStreamSink(
        client,
        stream=STREAM,
        dlq_stream=DLQ,
        seen_ttl_s=SEVEN_DAYS_S,
        keys=key_names(STREAM, DLQ, cluster=True),
    )
    client.flushall()
    before = used_memory(client)
    calls0, usec0 = evalsha_usec(client)
    envelope_bytes = 0
    started = time.perf_counter()
    for start in range(0, records, batch):
        chunk = entries(start, min(batch, records - start))
        envelope_bytes += sum(len(e.data) for e in chunk)
        results = sink.push(chunk, source_id=SOURCE, received_at=RECEIVED_AT)
        assert all(r.written for r in results)
    wall = time.perf_counter() - started
    calls1, usec1 = evalsha_usec(client)
    after = used_memory(client)
    client.delete(STREAM)
    markers_only = used_memory(client)
    marker = (markers_only - before) / records
    calls = calls1 - calls0
    return {
        "records": records,
        "batch": batch,
        "envelope_bytes": envelope_bytes / records,
        "stream_bytes_per_record": (after - markers_only) / records,
        "marker_bytes_per_record": marker,
        "server_usec_per_batch": (usec1 - usec0) / calls,
        "server_usec_per_record": (usec1 - usec0) / records,
        "client_wall_s": wall,
    }


def measure_buckets(client: redis.Redis, records: int, buckets: int) -> float:
    """Bytes per marker when markers are fields of `buckets` day hashes."""
    client.flushall()
    before = used_memory(client)
    pipe = client.pipeline(transaction=False)
    for n in range(records):
        item_id = str(uuid.UUID(int=n, version=4))
        pipe.hset(f"aos:seen:{{{SOURCE}}}:d:{n % buckets}", item_id, CLEAN)
        if n % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    for b in range(buckets):
        client.expire(f"aos:seen:{{{SOURCE}}}:d:{b}", SEVEN_DAYS_S + 86_400)
    return (used_memory(client) - before) / records


def main(argv: Sequence[str] | None = None) -> int:
    """Print the per-record costs over --runs runs (median, min-max)."""
    parser = argparse.ArgumentParser(prog="python -m bench.marker_memory")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100, help="records per batch call")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=7450, help="port of the private server")
    args = parser.parse_args(argv)
    rows: list[dict[str, float]] = []
    buckets: list[float] = []
    with private_server(args.port) as client:
        for _ in range(args.runs):
            rows.append(measure_sink(client, args.records, args.batch))
            buckets.append(measure_buckets(client, args.records, 8))
        version = client.info("server")["redis_version"]
    print(f"redis {version}, {args.records} records in batches of {args.batch}, {args.runs} runs")
    for name in rows[0]:
        if name in ("records", "batch"):
            continue
        values = [row[name] for row in rows]
        print(
            f"{name}: median {statistics.median(values):.1f}"
            f" (min {min(values):.1f}, max {max(values):.1f})"
        )
    print(
        f"marker_bytes_per_record as 8 day hashes: median {statistics.median(buckets):.1f}"
        f" (min {min(buckets):.1f}, max {max(buckets):.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
