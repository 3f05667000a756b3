"""Benchmark results: one row per scenario, rendered as a text table or a JSON document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

COLUMNS = (
    "scenario",
    "records/s median (min-max)",
    "x per-record",
    "x peer",
    "SoT req/batch",
    "drifted ids/batch",
    "Redis RT/batch",
    "import ms",
    "peak RSS MiB",
)


@dataclass
class Row:
    """What one scenario measured; None where a column does not apply."""

    scenario: str
    rate_median: float | None = None
    rate_low: float | None = None
    rate_high: float | None = None
    ratio: float | None = None
    ratio_peer: float | None = None
    sot_per_batch: float | None = None
    drifted_ids_per_batch: float | None = None
    redis_rt_per_batch: float | None = None
    import_ms: float | None = None
    peak_rss_mib: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}"


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def cells(row: Row) -> list[str]:
    """The table cells of one row, in COLUMNS order."""
    rate = _rate(row.rate_median)
    if row.rate_low is not None and row.rate_high is not None and row.rate_low != row.rate_high:
        rate += f" ({_rate(row.rate_low)}-{_rate(row.rate_high)})"
    return [
        row.scenario,
        rate,
        "-" if row.ratio is None else f"{row.ratio:.1f}x",
        "-" if row.ratio_peer is None else f"{row.ratio_peer:.1f}x",
        _number(row.sot_per_batch, 2),
        _number(row.drifted_ids_per_batch),
        _number(row.redis_rt_per_batch),
        _number(row.import_ms),
        _number(row.peak_rss_mib),
    ]


def render_table(rows: Sequence[Row]) -> str:
    """A fixed-width text table with a notes list under it."""
    grid = [list(COLUMNS), *(cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in grid) for i in range(len(COLUMNS))]

    def line(values: Sequence[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (value.rjust(width) for value, width in zip(values[1:], widths[1:], strict=True))
        return " | ".join([first, *rest])

    out = [line(grid[0]), "-+-".join("-" * width for width in widths)]
    out += [line(values) for values in grid[1:]]
    notes = [f"  [{index}] {row.note}" for index, row in enumerate(rows, 1) if row.note]
    if notes:
        out += ["", "notes (by row number):", *notes]
    return "\n".join(out)


def to_json(rows: Sequence[Row], meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON document written by `--json-out`."""
    return {"meta": meta, "rows": [asdict(row) for row in rows]}
