"""Pure drift report: hourly statistics buckets in, per-hour and total figures out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sidecar_fn.drift_stats import (
    DRIFT_PREFIX,
    DRIFTED,
    KIND_PREFIX,
    RECORDS,
    REPAIRED_PREFIX,
    UNEXPECTED_PREFIX,
)

CLEAN = "clean"
REPAIRED = "repaired"
OUTCOMES = (CLEAN, REPAIRED, "malformed", "unrepairable", "retries_exhausted")
"""Outcomes shown in every row, in this order; other dead-letter reasons follow."""
MAIN_OUTCOMES = (CLEAN, REPAIRED)
HOUR_FORMAT = "%Y%m%d%H"


def hours_back(now: datetime, count: int) -> list[str]:
    """The `count` UTC hours ending with the hour of `now`, oldest first, as `YYYYMMDDHH`."""
    if count < 1:
        raise ValueError("count must be at least 1")
    top = now.replace(minute=0, second=0, microsecond=0)
    return [(top - timedelta(hours=n)).strftime(HOUR_FORMAT) for n in range(count - 1, -1, -1)]


@dataclass
class Row:
    """The figures of one hour (or of the whole window)."""

    label: str
    records: int = 0
    drifted: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    drift: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    """Drifted fields per kind of drift (missing, null, empty, wrong_type, renamed, ...)."""

    @property
    def drift_rate(self) -> dict[str, float]:
        """Share of records drifted on each field."""
        return {name: _share(count, self.records) for name, count in self.drift.items()}

    @property
    def repair_rate(self) -> float:
        """Share of drifted records that reached the main stream repaired."""
        return _share(self.outcomes.get(REPAIRED, 0), self.drifted)

    @property
    def dead_letters(self) -> dict[str, int]:
        """Dead-letter count per reason."""
        return {
            reason: count
            for reason, count in self.outcomes.items()
            if reason not in MAIN_OUTCOMES and count
        }

    def add(self, other: Row) -> None:
        """Add another row's counts to this one."""
        self.records += other.records
        self.drifted += other.drifted
        for mine, theirs in (
            (self.outcomes, other.outcomes),
            (self.drift, other.drift),
            (self.repaired, other.repaired),
            (self.unexpected, other.unexpected),
            (self.kinds, other.kinds),
        ):
            for name, count in theirs.items():
                mine[name] = mine.get(name, 0) + count

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "records": self.records,
            "drifted": self.drifted,
            "outcomes": {name: self.outcomes.get(name, 0) for name in _outcome_names(self)},
            "drift": dict(sorted(self.drift.items())),
            "drift_rate": {k: round(v, 6) for k, v in sorted(self.drift_rate.items())},
            "repaired_fields": dict(sorted(self.repaired.items())),
            "repair_rate": round(self.repair_rate, 6),
            "dead_letters": self.dead_letters,
            "unexpected": dict(sorted(self.unexpected.items())),
            "drift_kinds": dict(sorted(self.kinds.items())),
        }


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _outcome_names(row: Row) -> list[str]:
    extra = sorted(name for name in row.outcomes if name not in OUTCOMES)
    return [*OUTCOMES, *extra]


def row_from_bucket(label: str, bucket: Mapping[str, int]) -> Row:
    """Read one statistics hash (field -> count) into a Row."""
    row = Row(label)
    for name, count in bucket.items():
        if name == RECORDS:
            row.records = count
        elif name == DRIFTED:
            row.drifted = count
        elif name.startswith(DRIFT_PREFIX):
            row.drift[name[len(DRIFT_PREFIX) :]] = count
        elif name.startswith(REPAIRED_PREFIX):
            row.repaired[name[len(REPAIRED_PREFIX) :]] = count
        elif name.startswith(UNEXPECTED_PREFIX):
            row.unexpected[name[len(UNEXPECTED_PREFIX) :]] = count
        elif name.startswith(KIND_PREFIX):
            row.kinds[name[len(KIND_PREFIX) :]] = count
        else:
            row.outcomes[name] = count
    return row


@dataclass
class Report:
    """Per-hour rows (oldest first, empty hours included) and the window's total."""

    source_id: str
    hours: list[Row]
    total: Row

    @property
    def fields(self) -> list[str]:
        """Every field that drifted in the window, most drifted first."""
        return sorted(self.total.drift, key=lambda name: (-self.total.drift[name], name))

    def to_dict(self) -> dict[str, Any]:
        """The report as one JSON-ready object."""
        return {
            "source_id": self.source_id,
            "from_hour": self.hours[0].label if self.hours else None,
            "to_hour": self.hours[-1].label if self.hours else None,
            "total": self.total.to_dict(),
            "hours": [{"hour": row.label, **row.to_dict()} for row in self.hours],
        }


def build_report(
    source_id: str, hours: Sequence[str], buckets: Mapping[str, Mapping[str, int]]
) -> Report:
    """The report over `hours` (`YYYYMMDDHH`), from the buckets found (missing = empty)."""
    rows = [row_from_bucket(hour, buckets.get(hour, {})) for hour in hours]
    total = Row("total")
    for row in rows:
        total.add(row)
    return Report(source_id, rows, total)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def hour_label(hour: str) -> str:
    """`2026010203` as `2026-01-02 03:00`."""
    return f"{hour[0:4]}-{hour[4:6]}-{hour[6:8]} {hour[8:10]}:00"


def render_text(report: Report) -> str:
    """The report as a plain-text table (hours with records only) and the totals."""
    total = report.total
    names = _outcome_names(total)
    fields = report.fields
    header = ["hour (UTC)", "records", *names, "repair", *(f"drift {f}" for f in fields)]
    body = []
    for row in [*(r for r in report.hours if r.records), total]:
        label = "total" if row is total else hour_label(row.label)
        rates = row.drift_rate
        body.append(
            [
                label,
                f"{row.records:,}",
                *(f"{row.outcomes.get(n, 0):,}" for n in names),
                _pct(row.repair_rate),
                *(_pct(rates.get(f, 0.0)) for f in fields),
            ]
        )
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    start, end = hour_label(report.hours[0].label), hour_label(report.hours[-1].label)
    out = [f"Drift report: source {report.source_id}, {start} to {end} UTC", line(header)]
    out += [line(row) for row in body]
    if not total.records:
        out.append("(no records in this window)")
    dead = ", ".join(f"{k} {v:,}" for k, v in total.dead_letters.items()) or "none"
    out.append(f"dead letters: {dead}")
    unexpected = ", ".join(
        f"{k} {v:,}" for k, v in sorted(total.unexpected.items(), key=lambda kv: -kv[1])
    )
    out.append(f"unexpected fields: {unexpected or 'none'}")
    kinds = ", ".join(
        f"{k} {v:,}" for k, v in sorted(total.kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    out.append(f"drift kinds (fields): {kinds or 'none'}")
    return "\n".join(out)
