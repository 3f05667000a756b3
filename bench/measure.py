"""Timing loops, cold-start and peak-memory measurements (the benchmark's clock-reading part)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.events import LambdaContext

Event = dict[str, Any]
Handle = Callable[[Event, Any], Any]
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Samples:
    """Records per second of each repeat of one scenario."""

    rates: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median records per second."""
        return statistics.median(self.rates) if self.rates else 0.0

    @property
    def low(self) -> float:
        """Slowest repeat."""
        return min(self.rates, default=0.0)

    @property
    def high(self) -> float:
        """Fastest repeat."""
        return max(self.rates, default=0.0)


def records_in(events: Sequence[Event]) -> int:
    """Total records of some events."""
    return sum(len(event["Records"]) for event in events)


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null (the handlers' JSON logs) for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def run_sequential(handle: Handle, events: Sequence[Event]) -> tuple[float, list[Any]]:
    """Invoke `handle` on each event in turn; return elapsed seconds and the results."""
    context = LambdaContext()
    results = []
    start = time.perf_counter()
    for event in events:
        results.append(handle(event, context))
    return time.perf_counter() - start, results


@dataclass
class RunnerResult:
    """One run of `local/run_sidecar.py`: its JSON summary, peak RSS and wall time."""

    count: int
    summary: dict[str, Any]
    peak_rss_kib: int
    wall_seconds: float


def run_runner(args: Sequence[str], env: Mapping[str, str], count: int) -> RunnerResult:
    """Run the local runner to completion; peak RSS comes from wait4 on that child alone."""
    command = [sys.executable, str(REPO / "local" / "run_sidecar.py"), "--count", str(count)]
    command += ["--json", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env=dict(env), stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        tail = (stderr or stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"runner exited {process.returncode}: {' | '.join(tail)}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    summary = orjson.loads(lines[-1]) if lines else {}
    return RunnerResult(count, summary, int(usage.ru_maxrss), wall)
