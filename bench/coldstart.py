"""Cold start: import time of the handler here and in a Lambda-like package layout."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
IMPORT_TIMER = (
    "import sys, time; sys.path[:0] = {paths!r}; t = time.perf_counter(); "
    "import {module}; print(time.perf_counter() - t)"
)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(requirements_file: Path) -> set[str]:
    """Installed distribution names that `pip install -r requirements_file` would bring."""
    environment = {key: str(value) for key, value in default_environment().items()}
    pending = [
        Requirement(line)
        for line in requirements_file.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    names: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = _normalise(requirement.name)
        if name in names:
            continue
        names.add(name)
        for raw in importlib.metadata.requires(requirement.name) or []:
            dependency = Requirement(raw)
            marker = dependency.marker
            if marker is None or marker.evaluate({**environment, "extra": ""}):
                pending.append(dependency)
    return names


def lambda_layout(target: Path) -> Path:
    """`sidecar_fn/` plus only its requirements' installed distributions, laid out as
    `pip install -t` lays them out (by symlink): what Lambda puts on the path."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        REPO / "sidecar_fn",
        target / "sidecar_fn",
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )
    link_distributions(requirement_closure(REPO / "sidecar_fn" / "requirements.txt"), target)
    return target


def link_distributions(names: set[str] | frozenset[str], target: Path) -> None:
    """Put the installed distributions `names` into `target` as `pip install -t` would
    (by symlink)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        distribution = importlib.metadata.distribution(name)
        tops = {Path(entry).parts[0] for entry in distribution.files or []}
        for top in tops - {"..", "__pycache__"}:
            link = target / top
            if not link.exists():
                link.symlink_to(Path(str(distribution.locate_file(top))))


def import_seconds(
    module: str,
    env: Mapping[str, str],
    runs: int,
    *,
    paths: list[str] | None = None,
    isolated: bool = False,
) -> tuple[list[float], list[float]]:
    """Seconds to import `module` in fresh interpreters, and whole-process wall seconds.

    `isolated` runs `python -I -S` (no site-packages, no .pth side effects) with `paths`
    put first on sys.path, as the Lambda runtime does with the function's package.
    """
    code = IMPORT_TIMER.format(paths=paths or [], module=module)
    command = [sys.executable, *(["-I", "-S"] if isolated else []), "-c", code]
    imports: list[float] = []
    walls: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            command, cwd=REPO, env=dict(env), capture_output=True, text=True, check=True
        )
        walls.append(time.perf_counter() - start)
        imports.append(float(done.stdout.strip().splitlines()[-1]))
    return imports, walls


def lambda_python() -> str | None:
    """A working CPython 3.12 (the Lambda runtime's), or None: `python3.12` on PATH, else a
    pyenv install."""
    candidates = [shutil.which("python3.12")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    for candidate in candidates:
        if candidate is None:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def build_package(target: Path, python312: str) -> Path:
    """`make build-SidecarFunction` into `target`: the package `sam build` ships."""
    subprocess.run(
        [
            "make",
            "-s",
            "build-SidecarFunction",
            f"ARTIFACTS_DIR={target}",
            f"LAMBDA_PYTHON={python312}",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def read_only_copy(package: Path, target: Path, *, bytecode: bool = True) -> Path:
    """A copy of `package` with every file and directory read-only, as Lambda's /var/task
    is; without `bytecode` the shipped __pycache__ directories are left out."""
    ignore = None if bytecode else shutil.ignore_patterns("__pycache__")
    shutil.copytree(package, target, symlinks=False, ignore=ignore)
    for path in [target, *target.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
    return target


def make_writable(root: Path) -> None:
    """Undo read_only_copy so that the copy can be removed."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)


LAMBDA_IMPORT_TIMER = (
    "import sys, time; sys.path[:0] = {paths!r}; t = time.perf_counter(); "
    "c = time.process_time(); import {module}; "
    "print(time.perf_counter() - t, time.process_time() - c)"
)


def lambda_import_seconds(
    python312: str,
    task: Path,
    env: Mapping[str, str],
    runs: int,
    module: str = "sidecar_fn.handler",
) -> tuple[list[float], list[float], list[float]]:
    """Seconds to import `module` from the package at `task` the way the Lambda runtime
    loads a function: `python3.12 -B -I -S`, only the package on sys.path, a fresh
    interpreter each run; the import's CPU seconds (what a busy machine does not inflate);
    and whole-process wall seconds."""
    code = LAMBDA_IMPORT_TIMER.format(paths=[str(task)], module=module)
    command = [python312, "-B", "-I", "-S", "-c", code]
    imports: list[float] = []
    cpu: list[float] = []
    walls: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            command, cwd=task, env=dict(env), capture_output=True, text=True, check=True
        )
        walls.append(time.perf_counter() - start)
        wall, used = done.stdout.strip().splitlines()[-1].split()
        imports.append(float(wall))
        cpu.append(float(used))
    return imports, cpu, walls
