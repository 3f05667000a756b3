"""A few entries read back from the streams, to show what a run produced."""

from __future__ import annotations

import json
from typing import Any

import orjson
import redis


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _newer_than(client: redis.Redis, stream: str, after: str, count: int) -> list[Any]:
    """The newest `count` entries of `stream` added after the entry id `after`, newest first."""
    entries: Any = client.xrevrange(stream, max="+", min=after, count=count + 1)
    return [entry for entry in entries if _text(entry[0]) != after][:count]


def repaired_envelopes(
    client: redis.Redis, stream: str, *, limit: int, after: str = "0-0", scan: int = 2000
) -> list[Any]:
    """Up to `limit` repaired envelopes among the newest `scan` entries added after the
    entry id `after` (this run's entries), oldest first.

    Envelopes whose `vendor_id` was repaired (the usual drift) are preferred.
    """
    if limit <= 0:
        return []
    found: list[tuple[int, Any]] = []
    others: list[tuple[int, Any]] = []
    entries = _newer_than(client, stream, after, scan)
    for age, (_entry_id, fields) in enumerate(entries):
        raw = fields.get(b"envelope", fields.get("envelope"))
        if raw is None:
            continue
        try:
            envelope = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        meta = envelope.get("meta") if isinstance(envelope, dict) else None
        if isinstance(meta, dict) and meta.get("is_repaired"):
            if "vendor_id" in (meta.get("repaired_fields") or ()):
                found.append((age, envelope))
                if len(found) == limit:
                    break
            elif len(others) < limit:
                others.append((age, envelope))
    chosen = sorted((found + others)[:limit], key=lambda pair: pair[0], reverse=True)
    return [envelope for _age, envelope in chosen]


def latest_dead_letter(
    client: redis.Redis, stream: str, *, after: str = "0-0"
) -> dict[str, str] | None:
    """The newest dead-letter entry added after the entry id `after`, as text, or None."""
    entries = _newer_than(client, stream, after, 1)
    if not entries:
        return None
    _entry_id, fields = entries[0]
    return {_text(key): _text(value) for key, value in fields.items()}


def format_samples(
    client: redis.Redis,
    stream: str,
    dlq_stream: str,
    *,
    limit: int,
    after: tuple[str, str] = ("0-0", "0-0"),
) -> str:
    """Repaired envelopes and one dead letter added after the entry ids `after` (main,
    dead-letter: where the streams stood when the run began), ready to print; empty when
    the run added none."""
    parts = []
    envelopes = repaired_envelopes(client, stream, limit=limit, after=after[0])
    if envelopes:
        parts.append(f"Sample of repaired envelopes ({stream}):")
        parts += [json.dumps(envelope, indent=2, ensure_ascii=False) for envelope in envelopes]
    dead = latest_dead_letter(client, dlq_stream, after=after[1]) if limit > 0 else None
    if dead is not None:
        raw = dead.get("raw", "")
        dead["raw"] = raw if len(raw) <= 120 else raw[:120] + "..."
        parts.append(f"Latest dead letter ({dlq_stream}):")
        parts.append(json.dumps(dead, indent=2, ensure_ascii=False))
    return "\n".join(parts)
