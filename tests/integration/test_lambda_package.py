"""The built Lambda package: hash-pinned lock, bytecode compiled for CPython 3.12."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from bench.coldstart import REPO, build_package, lambda_python
from tests.conftest import missing

pytestmark = pytest.mark.integration

LOCK = REPO / "sidecar_fn" / "requirements.lock"
REQUIREMENTS = REPO / "sidecar_fn" / "requirements.txt"
MAGIC_PRINTER = "import importlib.util, sys; sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER)"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+) \\$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_entries() -> dict[str, list[str]]:
    """Locked name -> its hash options, read the way pip --require-hashes reads the lock."""
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = entries.setdefault(_normalise(match.group(1)), [])
            continue
        stripped = line.strip()
        if stripped.startswith("--hash=") and current is not None:
            current.append(stripped.removesuffix("\\").strip())
        elif stripped and not stripped.startswith("#"):
            raise AssertionError(f"unexpected lock line: {line!r}")
    return entries


def test_every_locked_distribution_is_pinned_with_sha256_hashes() -> None:
    entries = _lock_entries()
    assert entries
    for name, hashes in entries.items():
        assert hashes, f"{name} has no hash"
        assert all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_lock_covers_every_requirement_within_its_range() -> None:
    pinned = {
        _normalise(m.group(1)): m.group(2)
        for m in map(PIN.match, LOCK.read_text().splitlines())
        if m
    }
    for line in REQUIREMENTS.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = Requirement(line)
        name = _normalise(requirement.name)
        assert name in pinned, f"{name} is not in the lock: run `make lock`"
        assert requirement.specifier.contains(pinned[name]), (name, pinned[name])


def test_built_package_ships_unchecked_bytecode_for_python_312(tmp_path: Path) -> None:
    python312 = lambda_python()
    if python312 is None:
        message = "CPython 3.12 (the Lambda runtime's) is needed to compile the package"
        missing(message)
    package = build_package(tmp_path / "task", python312)

    sources = sorted((package / "sidecar_fn").rglob("*.py"))
    assert sources
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        assert pyc.is_file(), pyc
        header = pyc.read_bytes()[:16]
        # PEP 552: flags 0b01 = hash-based, source not checked (valid on a read-only /var/task)
        assert int.from_bytes(header[4:8], "little") == 0b01, source
    magic = subprocess.run(
        [python312, "-c", MAGIC_PRINTER],
        capture_output=True,
        check=True,
    ).stdout
    assert (package / "sidecar_fn" / "__pycache__" / "handler.cpython-312.pyc").read_bytes()[
        :4
    ] == magic
    for distribution in ("redis", "orjson", "aws_lambda_powertools", "httpx"):
        assert list((package / distribution).rglob("*.cpython-312.pyc")), distribution
