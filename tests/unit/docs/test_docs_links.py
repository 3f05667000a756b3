"""The project's documents point only inside the project, and their relative links resolve."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_OUTSIDE = ("SPEC" + ".md", "SPEC" + " section", "../" + "shared")
_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / line for line in out.splitlines() if line]


def _text_files() -> list[Path]:
    return [p for p in _tracked("*.md", "*.py", "*.yaml", "*.toml", "Makefile") if p.is_file()]


def test_the_contract_page_exists() -> None:
    assert (ROOT / "docs" / "contract.md").is_file()


@pytest.mark.parametrize("path", _text_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_refers_to_documents_outside_the_project(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert [name for name in _OUTSIDE if name in text] == []


@pytest.mark.parametrize("path", _tracked("*.md"), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    broken = [
        target
        for target in _LINK.findall(path.read_text(encoding="utf-8"))
        if "://" not in target
        and not target.startswith("mailto:")
        and not (path.parent / target).exists()
    ]
    assert broken == []
