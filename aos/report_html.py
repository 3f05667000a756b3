"""The drift report as one self-contained HTML page: inline SVG charts drawn by matplotlib.

Nothing on the page refers to anything outside it (no script, font, stylesheet or image
to fetch): matplotlib draws text as paths and the SVG is written into the page.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Sequence
from typing import Any

from aos.report import OUTCOMES, Report, Row, hour_label

_COLOURS = {
    "clean": "#4c9a2a",
    "repaired": "#2b7bb9",
    "malformed": "#c0392b",
    "unrepairable": "#8e44ad",
    "retries_exhausted": "#e67e22",
}
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""The page may load nothing: a browser refuses any request the page would make."""
_SVG_START = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "path"
    matplotlib.rcParams["svg.hashsalt"] = "aos-report"
    import matplotlib.pyplot as plt

    return plt


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    _pyplot().close(figure)
    return _SVG_START.sub("", buffer.getvalue(), count=1)


def _ticks(rows: Sequence[Row]) -> tuple[list[int], list[str]]:
    step = max(1, len(rows) // 12)
    positions = list(range(0, len(rows), step))
    return positions, [hour_label(rows[i].label)[5:] for i in positions]


def drift_series(report: Report, name: str) -> list[float]:
    """Drift rate of `name` per hour, in percent; NaN (a gap in the line) for an hour that
    holds no records, which has no rate rather than a rate of 0%."""
    return [
        100 * row.drift_rate.get(name, 0.0) if row.records else math.nan for row in report.hours
    ]


def drift_chart(report: Report) -> str:
    """Drift rate per field over time (one line per field), as an SVG element."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(10, 3.6))
    rows = report.hours
    x = list(range(len(rows)))
    for name in report.fields or []:
        axes.plot(x, drift_series(report, name), marker=".", label=name)
    axes.set_title("Drift rate per field (% of records)")
    axes.set_ylabel("%")
    positions, labels = _ticks(rows)
    axes.set_xticks(positions, labels, rotation=45, ha="right", fontsize=8)
    axes.grid(alpha=0.3)
    if report.fields:
        axes.legend(fontsize=8, loc="upper left")
    else:
        axes.text(0.5, 0.5, "no drift in this window", transform=axes.transAxes, ha="center")
    return _svg(figure)


def outcomes_chart(report: Report) -> str:
    """Records per hour, stacked by outcome, as an SVG element."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(10, 3.6))
    rows = report.hours
    x = list(range(len(rows)))
    bottom = [0] * len(rows)
    names = [*OUTCOMES, *sorted({n for r in rows for n in r.outcomes} - set(OUTCOMES))]
    for name in names:
        values = [row.outcomes.get(name, 0) for row in rows]
        axes.bar(x, values, bottom=bottom, label=name, color=_COLOURS.get(name))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_title("Outcomes per hour")
    axes.set_ylabel("records")
    positions, labels = _ticks(rows)
    axes.set_xticks(positions, labels, rotation=45, ha="right", fontsize=8)
    axes.legend(fontsize=8, loc="upper left")
    axes.grid(axis="y", alpha=0.3)
    return _svg(figure)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    """The whole page."""
    total = report.total
    title = f"AOS drift report: {report.source_id}"
    window = f"{hour_label(report.hours[0].label)} to {hour_label(report.hours[-1].label)} UTC"
    summary = _table(
        ["records", "drifted", "repair rate", *OUTCOMES],
        [
            [
                f"{total.records:,}",
                f"{total.drifted:,}",
                f"{100 * total.repair_rate:.1f}%",
                *(f"{total.outcomes.get(n, 0):,}" for n in OUTCOMES),
            ]
        ],
    )
    rates = total.drift_rate
    fields = _table(
        ["field", "drifted", "drift rate", "repaired"],
        [
            [f, f"{total.drift[f]:,}", f"{100 * rates[f]:.2f}%", f"{total.repaired.get(f, 0):,}"]
            for f in report.fields
        ],
    )
    dead = _table(
        ["reason", "dead letters"], [[k, f"{v:,}"] for k, v in total.dead_letters.items()]
    )
    unexpected = _table(
        ["field", "records"],
        [[k, f"{v:,}"] for k, v in sorted(total.unexpected.items(), key=lambda kv: -kv[1])],
    )
    hourly = _table(
        ["hour (UTC)", "records", *OUTCOMES, "repair rate"],
        [
            [
                hour_label(row.label),
                f"{row.records:,}",
                *(f"{row.outcomes.get(n, 0):,}" for n in OUTCOMES),
                f"{100 * row.repair_rate:.1f}%",
            ]
            for row in report.hours
            if row.records
        ],
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
figure {{ margin: 0 0 1.5em; }}
figure svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(window)}</p>
{summary}
<h2>Drift rate per field</h2>
<figure id="drift-chart">{drift_chart(report)}</figure>
{fields}
<h2>Outcomes per hour</h2>
<figure id="outcomes-chart">{outcomes_chart(report)}</figure>
<h2>Dead letters per reason</h2>
{dead}
<h2>Unexpected fields</h2>
{unexpected}
<h2>Hours</h2>
{hourly}
</body></html>
"""
