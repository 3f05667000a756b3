"""Commands shown in the documents: `chalice local` without a stray reloader, the resume
example pointing at a real Redis, CI running the README's check command as written."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.unit.docs.readme_blocks import ROOT, block_with, code_blocks, readme_commands

_STARTS_CHALICE = re.compile(r"(^|&&|;|\|)\s*([A-Z_]+=\S*\s+)*chalice local(\s|$)")


def _markdown() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / line for line in out.splitlines() if line]


@pytest.mark.parametrize("path", _markdown(), ids=lambda p: str(p.relative_to(ROOT)))
def test_chalice_local_is_started_without_its_reloader(path: Path) -> None:
    starts = [line for block in code_blocks(path) for line in block if _STARTS_CHALICE.search(line)]
    inline = re.findall(r"`([^`\n]*chalice local(?: [^`\n]*)?)`", path.read_text())
    commands = starts + [c for c in inline if c.strip() != "chalice local"]
    assert [c for c in commands if "--no-autoreload" not in c] == []


def test_every_runner_command_of_the_resume_example_names_a_real_redis() -> None:
    block = block_with(ROOT / "README.md", "run_sidecar.py --farm-url")
    runs = [line for line in block if "local/run_sidecar.py" in line]
    assert len(runs) >= 2
    for line in runs:
        assert "--redis-url redis://" in line or re.match(r"^REDIS_URL=redis://\S+ ", line), line


def test_ci_runs_the_readme_check_command_exactly() -> None:
    _run, check = readme_commands()
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in script if line.strip() and not line.startswith("#")]
    assert commands[-1] == check
