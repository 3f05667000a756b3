"""`python -m bench.runs A.json B.json ...`: several benchmark runs summarised per scenario."""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

RATIOS = (("ratio", "x per-record"), ("ratio_peer", "x peer"))


def _span(values: Sequence[float], fmt: str) -> str:
    middle = statistics.median(values)
    return f"{fmt.format(middle)} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def summarise(documents: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Per scenario: median of the runs' medians (lowest-highest run), and of each ratio."""
    order: list[str] = []
    rates: dict[str, list[float]] = {}
    ratios: dict[str, dict[str, list[float]]] = {}
    for document in documents:
        for row in document["rows"]:
            name = row["scenario"]
            if row.get("rate_median") is None:
                continue
            if name not in rates:
                order.append(name)
                rates[name] = []
                ratios[name] = {key: [] for key, _ in RATIOS}
            rates[name].append(float(row["rate_median"]))
            for key, _ in RATIOS:
                if row.get(key) is not None:
                    ratios[name][key].append(float(row[key]))
    table = [["scenario", "records/s, median of runs (lowest-highest)", *(t for _, t in RATIOS)]]
    for name in order:
        cells = [name, _span(rates[name], "{:,.0f}")]
        cells += [
            _span(ratios[name][key], "{:.1f}x") if ratios[name][key] else "-" for key, _ in RATIOS
        ]
        table.append(cells)
    return table


def render(table: Sequence[Sequence[str]]) -> str:
    """A fixed-width text table."""
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = []
    for number, values in enumerate(table):
        cells = [
            values[0].ljust(widths[0]),
            *(v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)),
        ]
        lines.append(" | ".join(cells))
        if number == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary of the JSON files given (each from `python -m bench --json-out`)."""
    parser = argparse.ArgumentParser(prog="python -m bench.runs", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    documents = [orjson.loads(path.read_bytes()) for path in args.files]
    print(render(summarise(documents)))
    loads = [document["meta"]["machine"]["load_average_start"][0] for document in documents]
    print(f"{len(documents)} runs; load average at their start {min(loads):.1f}-{max(loads):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
