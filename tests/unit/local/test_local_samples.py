"""The sample of repaired envelopes and the latest dead letter shown after a run."""

from __future__ import annotations

import json

import fakeredis

from local.redis_state import last_entry_id
from local.samples import format_samples, latest_dead_letter, repaired_envelopes


def envelope(n: int, repaired: list[str]) -> str:
    meta = {"item_id": str(n), "is_repaired": bool(repaired), "repaired_fields": repaired}
    return json.dumps({"meta": meta, "payload": {"invoice_id": f"INV-{n}"}})


def test_vendor_id_repairs_are_preferred_and_shown_oldest_first() -> None:
    client = fakeredis.FakeRedis()
    for n, fields in enumerate([["vendor_id"], [], ["status"], ["vendor_id"], [], ["status"]]):
        client.xadd("main", {"envelope": envelope(n, fields)})
    client.xadd("main", {"envelope": "not json"})
    chosen = repaired_envelopes(client, "main", limit=2)
    assert [e["meta"]["item_id"] for e in chosen] == ["0", "3"]
    three = repaired_envelopes(client, "main", limit=3)
    assert [e["meta"]["item_id"] for e in three] == ["0", "3", "5"]
    assert repaired_envelopes(client, "main", limit=0) == []


def test_the_latest_dead_letter_is_shown_with_long_raw_text_cut() -> None:
    client = fakeredis.FakeRedis()
    assert latest_dead_letter(client, "dlq") is None
    client.xadd("dlq", {"reason": "malformed", "raw": b"x" * 500, "error": "not JSON"})
    text = format_samples(client, "main", "dlq", limit=2)
    assert "Latest dead letter (dlq)" in text
    assert '"reason": "malformed"' in text
    assert "x" * 120 + "..." in text and "x" * 121 not in text
    assert "Sample of repaired envelopes" not in text


def test_only_entries_added_after_the_run_began_are_shown() -> None:
    client = fakeredis.FakeRedis()
    client.xadd("main", {"envelope": envelope(1, ["vendor_id"])})
    client.xadd("dlq", {"reason": "malformed", "raw": "old", "error": "not JSON"})
    marks = (last_entry_id(client, "main"), last_entry_id(client, "dlq"))
    client.xadd("main", {"envelope": envelope(2, [])})
    assert format_samples(client, "main", "dlq", limit=2, after=marks) == ""
    assert repaired_envelopes(client, "main", limit=2, after=marks[0]) == []
    assert latest_dead_letter(client, "dlq", after=marks[1]) is None

    client.xadd("main", {"envelope": envelope(3, ["vendor_id"])})
    client.xadd("dlq", {"reason": "unrepairable", "raw": "new", "error": "unknown"})
    text = format_samples(client, "main", "dlq", limit=2, after=marks)
    assert '"item_id": "3"' in text and '"item_id": "1"' not in text
    assert '"raw": "new"' in text and '"raw": "old"' not in text
