"""Benchmark input building and table rendering."""

from __future__ import annotations

import orjson

from bench.events import RepeatingPool, drifted_ids, sqs_event
from bench.report import COLUMNS, Row, render_table, to_json


def test_sqs_event_gives_every_record_a_distinct_message_id() -> None:
    event = sqs_event(["a", "b", "c"])
    ids = [record["messageId"] for record in event["Records"]]
    assert len(set(ids)) == 3
    assert [record["body"] for record in event["Records"]] == ["a", "b", "c"]
    assert (
        sqs_event(["a"])["Records"][0]["messageId"] != sqs_event(["a"])["Records"][0]["messageId"]
    )


def test_drifted_ids_are_the_well_formed_ids_of_drifted_records() -> None:
    bodies = [
        orjson.dumps(
            {"invoice_id": "INV-1", "total_amount": 1, "vendor_id": "V", "status": "PAID"}
        ),
        orjson.dumps({"invoice_id": "INV-2", "total_amount": 1, "status": "PAID"}),
        orjson.dumps(
            {"invoice_id": "INV-2", "total_amount": None, "vendor_id": "V", "status": "PAID"}
        ),
        orjson.dumps({"invoice_id": "bogus", "total_amount": 1, "status": "PAID"}),
        b"not json",
    ]
    assert drifted_ids(sqs_event([b.decode() for b in bodies])) == {"INV-2"}


def test_table_has_every_column_and_numbered_notes() -> None:
    rows = [
        Row("per-record mixed", rate_median=1200.0, rate_low=1100.0, rate_high=1300.0, note="base"),
        Row(
            "handle_batch mixed",
            36000.0,
            35000.0,
            37000.0,
            ratio=30.0,
            sot_per_batch=1.0,
            drifted_ids_per_batch=71.5,
            redis_rt_per_batch=1.0,
        ),
        Row("cold start", import_ms=120.4),
    ]
    table = render_table(rows)
    header = table.splitlines()[0]
    assert all(column in header for column in COLUMNS)
    assert "36,000 (35,000-37,000)" in table
    assert "30.0x" in table
    assert "[1] base" in table
    document = to_json(rows, {"run": 1})
    assert document["rows"][1]["ratio"] == 30.0


def test_repeating_pool_resends_earlier_records_at_the_share_asked() -> None:
    class Counting:
        def __init__(self) -> None:
            self.next = 0

        def take(self, count: int) -> list[str]:
            self.next += count
            return [f"r{n}" for n in range(self.next - count, self.next)]

    pool = RepeatingPool(Counting(), 0.5, seed=1)
    first = pool.take(100)
    assert first == [f"r{n}" for n in range(100)]
    later = pool.take(2000)
    repeats = [text for index, text in enumerate(later) if text != f"r{100 + index}"]
    assert 900 < len(repeats) < 1100
    assert all(int(text[1:]) < 2100 for text in repeats)
