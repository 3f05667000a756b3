"""The operator's command run as a user runs it: `python -m aos ...` in a process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_aos(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m aos ARGS` from the repository root with exactly `env`; output as text."""
    return subprocess.run(
        [sys.executable, "-m", "aos", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=timeout,
    )
