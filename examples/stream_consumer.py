#!/usr/bin/env python3
"""Example downstream consumer of the AOS main stream (a Redis consumer group).

Reads `aos:invoices` as a member of a consumer group, decodes each `AOS_Envelope`, hands
it to `handle`, and acknowledges it only after `handle` returned, so a consumer that
dies mid-way leaves its entries pending; another member claims them after
`--claim-idle-ms` (XAUTOCLAIM). `--trim` removes, with `XTRIM MINID`, only entries every
group of the stream has already read and acknowledged. See docs/consumers.md.

    python examples/stream_consumer.py --redis-url redis://127.0.0.1:6379/0 --count 100
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import redis

Handler = Callable[[dict[str, Any], dict[str, Any]], None]


def handle(meta: dict[str, Any], payload: dict[str, Any]) -> None:
    """What a real consumer does with an invoice; here, one JSON line on stdout."""
    line = {
        "item_id": meta["item_id"],
        "invoice_id": payload.get("invoice_id"),
        "vendor_id": payload.get("vendor_id"),
        "repaired": meta.get("repaired_fields", []),
        "redriven_from": meta.get("redriven_from"),
    }
    print(json.dumps(line), flush=True)


def ensure_group(client: redis.Redis, stream: str, group: str, start: str) -> None:
    """Create the group (and the stream if needed); an existing group is left as it is."""
    try:
        client.xgroup_create(stream, group, id=start, mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def decode(fields: dict[bytes, bytes]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(meta, payload) of an entry, or None when it is not an envelope."""
    try:
        envelope = json.loads(fields[b"envelope"])
        return envelope["meta"], envelope["payload"]
    except (KeyError, TypeError, ValueError):
        return None


def safe_trim_id(client: redis.Redis, stream: str) -> str | None:
    """The lowest entry id some group still needs (its oldest pending entry, or the entry
    after its last delivered one); None when the stream has no group."""
    needed: list[tuple[int, int]] = []
    for info in client.xinfo_groups(stream):
        name = info["name"]
        pending = client.xpending(stream, name)
        if pending["pending"]:
            needed.append(_parse(pending["min"]))
        else:
            ms, seq = _parse(info["last-delivered-id"])
            needed.append((ms, seq + 1))
    if not needed:
        return None
    ms, seq = min(needed)
    return f"{ms}-{seq}"


def _parse(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def consume(
    client: redis.Redis,
    *,
    stream: str,
    group: str,
    consumer: str,
    count: int | None,
    block_ms: int,
    claim_idle_ms: int,
    handler: Handler = handle,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, int]:
    """Read, handle and acknowledge until `count` entries are done (with `count`, also
    when nothing arrives within `block_ms`), or until `stop()` says so.

    Entries left pending longer than `claim_idle_ms` by a consumer that died are claimed
    first; an entry that is not an envelope is reported and acknowledged (a real consumer
    would park it somewhere)."""
    done = {"handled": 0, "not_envelopes": 0, "claimed": 0}
    while not stop() and (count is None or done["handled"] + done["not_envelopes"] < count):
        batch = min(100, count - done["handled"] - done["not_envelopes"]) if count else 100
        _, claimed, _ = client.xautoclaim(
            stream, group, consumer, min_idle_time=claim_idle_ms, start_id="0-0", count=batch
        )
        entries = list(claimed)
        done["claimed"] += len(entries)
        if not entries:
            answer: Any = client.xreadgroup(
                group, consumer, {stream: ">"}, count=batch, block=block_ms
            )
            entries = list(answer[0][1]) if answer else []
        if not entries:
            if count is None:
                continue
            break
        for entry_id, fields in entries:
            decoded = decode(fields)
            if decoded is None:
                done["not_envelopes"] += 1
                print(f"skipping entry {entry_id!r}: not an envelope", file=sys.stderr)
            else:
                handler(*decoded)
                done["handled"] += 1
            client.xack(stream, group, entry_id)
    return done


def main(argv: list[str] | None = None) -> int:
    """Command line of the example."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--stream", default=os.environ.get("AOS_STREAM", "aos:invoices"))
    parser.add_argument("--group", default="invoice-consumers")
    parser.add_argument("--consumer", default=f"consumer-{os.getpid()}")
    parser.add_argument("--from-start", action="store_true", help="new group reads from 0")
    parser.add_argument("--count", type=int, help="stop after N entries (default: run on)")
    parser.add_argument("--block-ms", type=int, default=2000)
    parser.add_argument("--claim-idle-ms", type=int, default=60_000)
    parser.add_argument("--trim", action="store_true", help="XTRIM MINID what all groups acked")
    args = parser.parse_args(argv)
    client = redis.Redis.from_url(args.redis_url)
    stopping = False

    def stop_soon(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop_soon)
    try:
        ensure_group(client, args.stream, args.group, "0" if args.from_start else "$")
        done = consume(
            client,
            stream=args.stream,
            group=args.group,
            consumer=args.consumer,
            count=args.count,
            block_ms=args.block_ms,
            claim_idle_ms=args.claim_idle_ms,
            stop=lambda: stopping,
        )
        if args.trim:
            minid = safe_trim_id(client, args.stream)
            if minid is not None:
                done["trimmed"] = int(client.xtrim(args.stream, minid=minid, approximate=False))
    except KeyboardInterrupt:
        return 130
    except redis.RedisError as exc:
        print(f"stream_consumer: Redis error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"done": done}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
