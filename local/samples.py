"""A few entries read back from the streams, to show what a run produced."""

from __future__ import annotations

import json
from typing import Any

import orjson
import redis


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def repaired_envelopes(
    client: redis.Redis, stream: str, *, limit: int, scan: int = 2000
) -> list[Any]:
    """Up to `limit` repaired envelopes among the newest `scan` entries, oldest first.

    Envelopes whose `vendor_id` was repaired (the usual drift) are preferred.
    """
    if limit <= 0:
        return []
    found: list[tuple[int, Any]] = []
    others: list[tuple[int, Any]] = []
    entries: Any = client.xrevrange(stream, count=scan)
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


def latest_dead_letter(client: redis.Redis, stream: str) -> dict[str, str] | None:
    """The newest dead-letter entry's fields, as text, or None."""
    entries: Any = client.xrevrange(stream, count=1)
    if not entries:
        return None
    _entry_id, fields = entries[0]
    return {_text(key): _text(value) for key, value in fields.items()}


def format_samples(client: redis.Redis, stream: str, dlq_stream: str, *, limit: int) -> str:
    """Repaired envelopes and one dead letter, ready to print; empty when there are none."""
    parts = []
    envelopes = repaired_envelopes(client, stream, limit=limit)
    if envelopes:
        parts.append(f"Sample of repaired envelopes ({stream}):")
        parts += [json.dumps(envelope, indent=2, ensure_ascii=False) for envelope in envelopes]
    dead = latest_dead_letter(client, dlq_stream) if limit > 0 else None
    if dead is not None:
        raw = dead.get("raw", "")
        dead["raw"] = raw if len(raw) <= 120 else raw[:120] + "..."
        parts.append(f"Latest dead letter ({dlq_stream}):")
        parts.append(json.dumps(dead, indent=2, ensure_ascii=False))
    return "\n".join(parts)
