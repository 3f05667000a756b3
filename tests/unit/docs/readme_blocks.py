"""The README's fenced shell blocks, read the way a user copies them."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_FENCE = re.compile(r"^```(?:sh|bash|shell)?\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_blocks(path: Path) -> list[list[str]]:
    """Each fenced block of `path` as its non-empty, non-comment lines."""
    blocks = []
    for body in _FENCE.findall(path.read_text(encoding="utf-8")):
        lines = [line.strip() for line in body.splitlines()]
        blocks.append([line for line in lines if line and not line.startswith("#")])
    return blocks


def readme_commands() -> tuple[str, str]:
    """The two commands of the README's first code block: run it, and check it."""
    first = code_blocks(ROOT / "README.md")[0]
    assert len(first) == 2, first
    return first[0], first[1]


def block_with(path: Path, fragment: str) -> list[str]:
    """The first fenced block of `path` that has a line containing `fragment`."""
    for block in code_blocks(path):
        if any(fragment in line for line in block):
            return block
    raise AssertionError(f"no code block of {path.name} contains {fragment!r}")
