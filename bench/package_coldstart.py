"""`python -m bench.package_coldstart`: cold start of the built Lambda package, read-only."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.coldstart import (
    build_package,
    lambda_import_seconds,
    lambda_python,
    make_writable,
    read_only_copy,
)


def _line(name: str, seconds: list[float]) -> str:
    ms = sorted(value * 1000 for value in seconds)
    return (
        f"{name}: median {statistics.median(ms):.0f} ms, min {ms[0]:.0f}, max {ms[-1]:.0f},"
        f" stdev {statistics.pstdev(ms):.0f} over {len(ms)} runs"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Build the package (or take --package), copy it read-only and time the handler's import
    in fresh `python3.12 -B -I -S` interpreters, with and without the shipped bytecode."""
    parser = argparse.ArgumentParser(prog="python -m bench.package_coldstart")
    parser.add_argument("--package", type=Path, help="a built package (default: build one)")
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per variant")
    args = parser.parse_args(argv)
    python312 = lambda_python()
    if python312 is None:
        print("no CPython 3.12 found (python3.12 on PATH or under ~/.pyenv)", file=sys.stderr)
        return 2
    env = {
        "PATH": os.environ.get("PATH", ""),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with tempfile.TemporaryDirectory(prefix="aos-package-") as tmp:
        root = Path(tmp)
        package = args.package or build_package(root / "built", python312)
        variants = (("with bytecode", True), ("without bytecode", False))
        for name, bytecode in variants:
            task = read_only_copy(package, root / f"task-{bytecode}", bytecode=bytecode)
            try:
                imports, cpu, walls = lambda_import_seconds(python312, task, env, args.runs)
            finally:
                make_writable(task)
            print(_line(f"import sidecar_fn.handler, {name}", imports))
            print(_line(f"import CPU time, {name}", cpu))
            print(_line(f"whole process, {name}", walls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
