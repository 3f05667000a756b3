"""A test that needs a real service or tool fails in CI instead of skipping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import missing

TESTS = Path(__file__).resolve().parents[1]
GUARDED = re.compile(r"IN_CI|in_ci\(\)|platform\.(system|machine)\(\)")


def test_missing_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="redis-server without TLS"):
        missing("redis-server without TLS")


def test_missing_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        missing("redis-server without TLS")


def test_no_test_skips_without_failing_in_ci() -> None:
    unguarded = []
    for path in sorted((TESTS / "reliability").glob("*.py")) + sorted(
        (TESTS / "integration").glob("*.py")
    ):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            guarded = GUARDED.search("\n".join(lines[max(0, number - 4) : number]))
            if "importorskip(" in line or ("pytest.skip(" in line and not guarded):
                unguarded.append(f"{path.name}:{number + 1}")
    assert unguarded == []
