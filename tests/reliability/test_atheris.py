"""Coverage-guided fuzzing of the batch path with atheris, when it is installed."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import missing

from .evil_sot import pristine_invoice

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

TESTS = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("AOS_ATHERIS_RUNS", "5000"))


def seed_corpus(directory: Path) -> None:
    """Seeds: a clean record, drifted ones, a hostile id, non-objects."""
    record = pristine_invoice("INV-42") or {}
    drifted = {k: v for k, v in record.items() if k != "vendor_id"}
    seeds = [
        json.dumps(record),
        json.dumps(drifted),
        json.dumps({**drifted, "invoice_id": "INV-1/../x"}),
        json.dumps({**drifted, "invoice_id": "INV-\u0661"}),
        "[1, 2]",
        '{"invoice_id": "INV-1", "vendor_',
    ]
    for index, seed in enumerate(seeds):
        (directory / f"seed{index}").write_bytes(b"\x01\x00" + seed.encode())


def test_atheris_finds_no_crash(tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        if platform.system() == "Linux" and platform.machine() == "x86_64":
            missing("atheris is not installed (pip install -e '.[dev]')")
        pytest.skip("atheris has wheels for Linux x86_64 only")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seed_corpus(corpus)
    repo = TESTS.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(repo)])}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "reliability.atheris_handler"),
            *(f"-runs={RUNS}", "-max_len=4096", str(corpus)),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    done = re.search(r"Done (\d+) runs", result.stderr)
    assert done is not None and int(done.group(1)) >= RUNS, result.stderr[-2000:]
