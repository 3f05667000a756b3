"""The Salesforce row's query timer and annotation."""

from __future__ import annotations

import httpx

from bench.report import Row
from bench.salesforce import QueryTimer, annotate


def test_queries_are_timed_and_counted_per_batch() -> None:
    timer = QueryTimer(httpx.MockTransport(lambda request: httpx.Response(200, json={})))
    with httpx.Client(transport=timer) as client:
        client.post("https://org.example/services/oauth2/token")
        for _ in range(3):
            client.get("https://org.example/services/data/v59.0/query?q=x")
        client.get("https://org.example/services/data/v59.0/query/01g000000000000001-2000")
    row = Row("handle_batch mixed, Salesforce adapter")
    annotate(row, timer, batches=2)
    assert row.sot_per_batch == 2.0
    assert row.extra["logins"] == 1
    assert row.extra["ms_per_query_min"] <= row.extra["ms_per_query_median"]
    assert "2.00 queries/batch" in row.note
    assert timer.query_ms == []


def test_no_queries_leave_the_row_alone() -> None:
    timer = QueryTimer(httpx.MockTransport(lambda request: httpx.Response(200)))
    row = Row("x")
    annotate(row, timer, batches=3)
    assert row.sot_per_batch is None and row.note == ""
