"""Run progress: a tqdm bar on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TextIO

from local.summary import RunTotals


class Progress(Protocol):
    """Receives the running totals after each batch."""

    def update(self, totals: RunTotals) -> None:
        """Show the totals so far."""

    def close(self) -> None:
        """Finish the display."""


class NullProgress:
    """Shows nothing."""

    def update(self, totals: RunTotals) -> None:
        """Ignore the totals."""

    def close(self) -> None:
        """Nothing to finish."""


def _dead_letters(totals: RunTotals) -> int:
    return totals.malformed + totals.unrepairable + totals.retries_exhausted


class LineProgress:
    """Writes one plain progress line at most every `interval` seconds (logs, pipes, CI)."""

    def __init__(
        self,
        out: TextIO,
        *,
        total: int | None,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = out
        self._total = total
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last = self._started
        self._last_read = -1

    def update(self, totals: RunTotals) -> None:
        """Write a line when the interval has passed since the previous one."""
        now = self._clock()
        if now - self._last >= self._interval:
            self._write(totals, now)

    def close(self) -> None:
        """Nothing to finish: the summary follows."""

    def _write(self, totals: RunTotals, now: float) -> None:
        self._last = now
        if totals.read == self._last_read:
            return
        self._last_read = totals.read
        elapsed = max(now - self._started, 1e-9)
        done = f"{totals.read:,}"
        if self._total:
            done += f"/{self._total:,} ({100 * totals.read / self._total:.0f}%)"
        self._out.write(
            f"progress: {done} records, {totals.read / elapsed:,.0f} records/s,"
            f" repaired {totals.repaired:,}, dead letters {_dead_letters(totals):,},"
            f" retries {totals.retries:,}\n"
        )
        self._out.flush()


class TqdmProgress:
    """A tqdm progress bar with the repaired / dead-letter counts alongside."""

    def __init__(self, out: TextIO, *, total: int | None) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="rec", unit_scale=True, file=out, dynamic_ncols=True)
        self._read = 0

    def update(self, totals: RunTotals) -> None:
        """Advance the bar to the records read so far."""
        self._bar.update(totals.read - self._read)
        self._read = totals.read
        self._bar.set_postfix(
            repaired=totals.repaired,
            dlq=_dead_letters(totals),
            retries=totals.retries,
            refresh=False,
        )

    def close(self) -> None:
        """Close the bar so the summary starts on a fresh line."""
        self._bar.close()


def make_progress(out: TextIO, *, total: int | None, enabled: bool) -> Progress:
    """A bar when `out` is a terminal, plain lines otherwise, nothing when disabled."""
    if not enabled:
        return NullProgress()
    if out.isatty():
        return TqdmProgress(out, total=total)
    return LineProgress(out, total=total)
