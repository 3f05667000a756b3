"""The HTML report in a real headless Chromium: it loads, its charts render, it fetches nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from aos.report import build_report
from aos.report_html import render_html

from .chromium import chromium_binary, serve_page, visit

HOURS = [f"20260102{h:02d}" for h in range(24)]
CHART_PATHS = "document.querySelectorAll('#{0} svg path').length"
CHART_BOX = "JSON.stringify(document.querySelector('#{0} svg').getBoundingClientRect())"


def sample_page() -> bytes:
    buckets = {
        hour: {
            "records": 1000 + 10 * n,
            "drifted": 150,
            "clean": 800,
            "repaired": 140 + n,
            "malformed": 50,
            "unrepairable": 7,
            "retries_exhausted": 3 if n % 5 == 0 else 0,
            "drift:vendor_id": 120 + n,
            "drift:status": 20,
            "drift:total_amount": 10 + n % 3,
            "repaired:vendor_id": 115,
            "unexpected:vendorId": n,
        }
        for n, hour in enumerate(HOURS)
    }
    return render_html(build_report("browser-src", HOURS, buckets)).encode()


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_binary()


def test_the_page_loads_its_two_charts_render_and_nothing_is_fetched(
    chromium: str, tmp_path: Path
) -> None:
    page = sample_page()
    assert len(page) < 400_000
    with serve_page(page) as url:
        seen = visit(
            chromium,
            url,
            str(tmp_path / "profile"),
            {
                "title": "document.title",
                "drift_paths": CHART_PATHS.format("drift-chart"),
                "outcome_paths": CHART_PATHS.format("outcomes-chart"),
                "drift_box": CHART_BOX.format("drift-chart"),
                "external": "[...document.querySelectorAll('[src],[href]')]"
                ".map(e => e.getAttribute('src') || e.getAttribute('href'))"
                ".filter(u => !u.startsWith('data:') && !u.startsWith('#'))",
            },
        )

    assert seen.loaded
    assert seen.requests == [url], "the page requested something besides itself"
    assert seen.failed == []
    assert seen.values["title"] == "AOS drift report: browser-src"
    assert seen.values["drift_paths"] > 20
    assert seen.values["outcome_paths"] > 20
    assert '"width":' in seen.values["drift_box"] and '"width":0' not in seen.values["drift_box"]
    assert seen.values["external"] == []

    image = Image.open(io.BytesIO(seen.screenshot_png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 22) or []
    drawn = sum(count for count, rgb in colours if rgb != (255, 255, 255))
    assert drawn > 0.02 * image.size[0] * image.size[1]
    blue = sum(count for count, (r, g, b) in colours if b > 150 and r < 90 and g < 160)
    assert blue > 500, "the repaired bars and the first drift line are not drawn"


def test_a_page_that_fetches_is_caught(chromium: str, tmp_path: Path) -> None:
    leaky = b'<html><body><img src="http://cdn.example/logo.png"></body></html>'
    with serve_page(leaky) as url:
        seen = visit(chromium, url, str(tmp_path / "profile"), {})
    assert "http://cdn.example/logo.png" in seen.requests
