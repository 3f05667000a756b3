"""Dependency floors stay above releases with known vulnerabilities."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]
SAFE_FLOORS = {
    "orjson": Version("3.9.15"),  # CVE-2024-27454: recursion on deeply nested input
    "redis": Version("6.0"),  # TLS hostname checking on by default from 6.0
    "tqdm": Version("4.66.3"),  # CVE-2024-34062: eval of CLI arguments
}


def requirements() -> list[tuple[str, Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [("pyproject.toml", Requirement(line)) for line in project["dependencies"]]
    for path in ("sidecar_fn/requirements.txt", "farm_api/requirements.txt"):
        for line in (ROOT / path).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                found.append((path, Requirement(line)))
    return found


@pytest.mark.parametrize("name", sorted(SAFE_FLOORS))
def test_every_requirement_excludes_the_vulnerable_releases(name: str) -> None:
    named = [(path, req) for path, req in requirements() if req.name == name]
    assert named, f"{name} is required nowhere"
    for path, requirement in named:
        floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert floors and max(floors) >= SAFE_FLOORS[name], f"{path}: {requirement}"
