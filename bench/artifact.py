"""`--package DIR`: the benchmark imports sidecar_fn and its locked dependencies from a built
Lambda package (`make package` puts one in build/lambda) instead of the dev tree.

Nothing here imports sidecar_fn or its dependencies: `bench/__main__.py` calls `use_package`
before the first such import, which is what makes the package's copies the ones loaded.
"""

from __future__ import annotations

import importlib
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
THIS_PYTHON = (sys.version_info.major, sys.version_info.minor)
LAMBDA_PYTHON = (3, 12)
"""The Lambda runtime's CPython: the package's compiled wheels are built for it."""
REQUIRED = ("sidecar_fn", "orjson")
"""Imported and checked whenever --package is given."""
LOCKED = ("redis", "hiredis", "httpx", "aws_lambda_powertools")
"""Checked when loaded: the other locked dependencies the benchmark touches."""
HOW_TO_RUN = (
    "Run it as `python -m bench --package DIR` with a CPython 3.12 that has the benchmark's\n"
    "dev dependencies (the package goes first on sys.path before anything imports sidecar_fn).\n"
    "`make bench-package` does it all: builds build/lambda and the build/bench-py312 venv,\n"
    "then runs `build/bench-py312/bin/python -m bench --package build/lambda`."
)


class PackageError(Exception):
    """The benchmark cannot run on the package named by --package."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def package_arg(argv: Sequence[str]) -> str | None:
    """The value of `--package` in `argv` (`--package DIR` or `--package=DIR`), else None."""
    for index, arg in enumerate(argv):
        if arg == "--package" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--package="):
            return arg.removeprefix("--package=")
    return None


def use_package(argv: Sequence[str], python: tuple[int, int] = THIS_PYTHON) -> Path | None:
    """Put the --package directory of `argv` first on sys.path and return it (as given);
    None without --package. Raises PackageError, leaving sys.path alone, when `python`
    is not the Lambda runtime's version or the directory holds no sidecar_fn package."""
    value = package_arg(argv)
    if value is None:
        return None
    package = Path(value)
    problems = []
    if python != LAMBDA_PYTHON:
        problems.append(interpreter_problem(python))
    if not (package / "sidecar_fn" / "__init__.py").is_file():
        problems.append(f"{package} holds no sidecar_fn/ (build the package with `make package`)")
    if problems:
        raise PackageError(problems)
    entry = str(package.resolve())
    if not sys.path or sys.path[0] != entry:
        sys.path.insert(0, entry)
    return package


def interpreter_problem(python: tuple[int, int]) -> str:
    """Why Python `python` cannot run the package."""
    wanted = ".".join(map(str, LAMBDA_PYTHON))
    return (
        f"this is Python {'.'.join(map(str, python))}; the package's compiled wheels are for"
        f" CPython {wanted} (the Lambda runtime)"
    )


def module_path(module: ModuleType) -> Path | None:
    """The file `module` was loaded from (resolved), or None for a module without one."""
    origin = getattr(module, "__file__", None)
    return Path(origin).resolve() if origin else None


def _within(path: Path | None, root: Path) -> bool:
    return path is not None and path.is_relative_to(root.resolve())


def loaded_from(module: ModuleType, package: Path | None = None) -> str:
    """Where `module` came from, in words: the Lambda package `package` (with this Python's
    version), the dev tree, or another directory."""
    path = module_path(module)
    name = module.__name__
    if package is not None and _within(path, package):
        return f"{name} from the Lambda package {package} (Python {platform.python_version()})"
    if _within(path, REPO):
        return f"{name} from the dev tree"
    return f"{name} from {path.parent if path else 'an unknown place'}"


def check_loaded(
    package: Path,
    modules: Mapping[str, ModuleType] | None = None,
    python: tuple[int, int] = THIS_PYTHON,
) -> list[str]:
    """Problems that make this process not measure `package`: the interpreter, and any of
    sidecar_fn, orjson (imported here) or the other locked dependencies (when loaded) that
    came from elsewhere. Empty when the benchmark runs on the package."""
    problems = [] if python == LAMBDA_PYTHON else [interpreter_problem(python)]
    if modules is None:
        for name in REQUIRED:
            try:
                importlib.import_module(name)
            except ImportError as error:
                problems.append(f"{name} cannot be imported: {error}")
        modules = sys.modules
    for name in (*REQUIRED, *LOCKED):
        module = modules.get(name)
        if module is None:
            if name in REQUIRED and not any(p.startswith(f"{name} ") for p in problems):
                problems.append(f"{name} is not loaded")
            continue
        path = module_path(module)
        if not _within(path, package):
            problems.append(f"{name} was imported from {path}, not from {package}")
    return problems


def refusal(package: str | Path, problems: Sequence[str]) -> str:
    """The message `python -m bench --package` exits with when it cannot measure the package."""
    lines = [f"python -m bench --package {package}: not measuring the package"]
    lines += [f"  - {problem}" for problem in problems]
    lines.append(HOW_TO_RUN)
    return "\n".join(lines)
