"""The pure drift report: hours, rows, rates, text and JSON."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from aos.report import build_report, hours_back, render_text, row_from_bucket
from aos.report_html import drift_series

BUCKET = {
    "records": 200,
    "drifted": 40,
    "clean": 150,
    "repaired": 30,
    "malformed": 10,
    "unrepairable": 6,
    "retries_exhausted": 4,
    "drift:vendor_id": 30,
    "drift:status": 10,
    "repaired:vendor_id": 25,
    "repaired:status": 5,
    "unexpected:vendorId": 3,
}


def test_hours_back_ends_with_the_current_hour() -> None:
    now = datetime(2026, 1, 2, 0, 30, tzinfo=UTC)
    assert hours_back(now, 3) == ["2026010122", "2026010123", "2026010200"]
    with pytest.raises(ValueError):
        hours_back(now, 0)


def test_a_bucket_reads_into_rates() -> None:
    row = row_from_bucket("2026010203", BUCKET)
    assert row.drift_rate == {"vendor_id": 0.15, "status": 0.05}
    assert row.repair_rate == 0.75
    assert row.dead_letters == {"malformed": 10, "unrepairable": 6, "retries_exhausted": 4}
    assert row.unexpected == {"vendorId": 3}


def test_the_total_adds_the_hours_and_missing_hours_are_empty() -> None:
    report = build_report("src", ["2026010202", "2026010203"], {"2026010203": BUCKET})
    data = report.to_dict()
    assert data["hours"][0]["records"] == 0
    assert data["total"]["records"] == 200
    assert data["total"]["outcomes"] == {
        "clean": 150,
        "repaired": 30,
        "malformed": 10,
        "unrepairable": 6,
        "retries_exhausted": 4,
    }
    assert data["total"]["drift_rate"] == {"status": 0.05, "vendor_id": 0.15}
    assert report.fields == ["vendor_id", "status"]


def test_the_text_table_shows_hours_with_records_and_the_total() -> None:
    text = render_text(build_report("src", ["2026010202", "2026010203"], {"2026010203": BUCKET}))
    lines = text.splitlines()
    assert lines[0] == "Drift report: source src, 2026-01-02 02:00 to 2026-01-02 03:00 UTC"
    assert lines[1].split()[:3] == ["hour", "(UTC)", "records"]
    assert lines[2].startswith("2026-01-02 03:00")
    assert lines[3].startswith("total") and "15.0%" in lines[3] and "75.0%" in lines[3]
    assert "dead letters: malformed 10, unrepairable 6, retries_exhausted 4" in text
    assert "unexpected fields: vendorId 3" in text


def test_an_empty_window_says_so() -> None:
    text = render_text(build_report("src", ["2026010203"], {}))
    assert "(no records in this window)" in text
    assert "dead letters: none" in text


def test_drift_kinds_are_read_added_and_shown() -> None:
    bucket = {**BUCKET, "kind:renamed": 12, "kind:missing": 20, "kind:case": 8}
    report = build_report("src", ["2026010202", "2026010203"], {"2026010203": bucket})
    assert report.total.kinds == {"renamed": 12, "missing": 20, "case": 8}
    assert "kind:renamed" not in report.total.outcomes
    assert report.to_dict()["total"]["drift_kinds"] == {"case": 8, "missing": 20, "renamed": 12}
    assert render_text(report).splitlines()[-1] == (
        "drift kinds (fields): missing 20, renamed 12, case 8"
    )


def test_the_drift_chart_leaves_a_gap_for_an_hour_without_records() -> None:
    report = build_report("src", ["2026010202", "2026010203"], {"2026010203": BUCKET})
    empty, full = drift_series(report, "vendor_id")
    assert math.isnan(empty)
    assert full == pytest.approx(15.0)
