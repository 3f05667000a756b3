"""`python -m bench --package DIR` imports sidecar_fn from DIR, or refuses and says why."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from bench.artifact import REPO, PackageError, check_loaded, loaded_from, package_arg, use_package
from bench.run import footer, parse_args

# Run from the repository root, as `python -m bench` is: the dev tree's sidecar_fn is then
# importable from the current directory, and only --package can put DIR's copy before it.
PROBE = """
import json, sys
from pathlib import Path
from bench.artifact import check_loaded, loaded_from, use_package
package = use_package(sys.argv[1:], python=(3, 12))
import sidecar_fn
print(json.dumps({
    "first": sys.path[0],
    "file": sidecar_fn.__file__,
    "stub": getattr(sidecar_fn, "STUB", False),
    "described": loaded_from(sidecar_fn, package),
    "problems": check_loaded(package, python=(3, 12)) if package else None,
}))
"""


def _package(root: Path, *modules: str) -> Path:
    """A directory laid out like the Lambda package, holding stub modules `modules`."""
    for name in modules:
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text("STUB = True\n")
    return root


def _probe(*argv: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_package_goes_first_on_sys_path_and_sidecar_fn_is_imported_from_it(
    tmp_path: Path,
) -> None:
    package = _package(tmp_path / "lambda", "sidecar_fn", "orjson")
    probe = _probe("--quick", "--package", str(package))
    assert probe["first"] == str(package.resolve())
    assert Path(str(probe["file"])).parent.parent == package.resolve()
    assert probe["stub"] is True
    version = platform.python_version()
    assert probe["described"] == f"sidecar_fn from the Lambda package {package} (Python {version})"
    assert probe["problems"] == []


def test_without_package_sidecar_fn_comes_from_the_dev_tree() -> None:
    probe = _probe("--quick")
    assert Path(str(probe["file"])).resolve() == REPO / "sidecar_fn" / "__init__.py"
    assert probe["stub"] is False
    assert probe["described"] == "sidecar_fn from the dev tree"
    assert probe["problems"] is None


def test_dependencies_imported_from_elsewhere_are_reported(tmp_path: Path) -> None:
    package = _package(tmp_path / "lambda", "sidecar_fn")
    probe = _probe(f"--package={package}")
    assert probe["stub"] is True
    problems = probe["problems"]
    assert isinstance(problems, list)
    assert len(problems) == 1
    assert problems[0].startswith("orjson was imported from ")
    assert problems[0].endswith(f", not from {package}")


def test_a_directory_without_sidecar_fn_is_refused_and_sys_path_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = list(sys.path)
    with pytest.raises(PackageError, match="holds no sidecar_fn/"):
        use_package(["--package", str(_package(tmp_path / "empty", "orjson"))], python=(3, 12))
    assert sys.path == before


def test_an_interpreter_other_than_the_lambda_runtimes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    package = _package(tmp_path / "lambda", "sidecar_fn")
    with pytest.raises(PackageError) as refused:
        use_package(["--package", str(package)], python=(3, 11))
    assert refused.value.problems == [
        "this is Python 3.11; the package's compiled wheels are for CPython 3.12"
        " (the Lambda runtime)"
    ]
    assert str(package.resolve()) not in sys.path
    assert check_loaded(package, modules={}, python=(3, 13))[0].startswith("this is Python 3.13")


def test_python_m_bench_refuses_a_directory_without_sidecar_fn(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--package", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert f"python -m bench --package {tmp_path}: not measuring the package" in done.stderr
    assert f"{tmp_path} holds no sidecar_fn/" in done.stderr
    assert "make bench-package" in done.stderr
    assert done.stdout == ""


def test_package_arg_reads_both_spellings() -> None:
    assert package_arg(["--quick", "--package", "build/lambda"]) == "build/lambda"
    assert package_arg(["--package=build/lambda", "--quick"]) == "build/lambda"
    assert package_arg(["--quick"]) is None
    assert package_arg(["--package"]) is None


def test_the_command_line_takes_package_and_leaves_out_dev_tree_rows() -> None:
    config, args = parse_args(["--quick", "--package", "build/lambda"])
    assert args.package == Path("build/lambda")
    assert not config.runner
    assert not config.cold_start
    config, args = parse_args(["--quick"])
    assert args.package is None
    assert config.runner
    assert config.cold_start


def test_the_footer_says_where_sidecar_fn_came_from() -> None:
    import sidecar_fn

    meta = {
        "machine": {
            "cpus": 2,
            "load_average_start": (1.5, 1.0, 1.0),
            "python": "3.12.1",
            "hiredis": True,
            "sidecar_fn": loaded_from(sidecar_fn, Path("build/lambda")),
        },
        "load_average_end": (2.25, 1.0, 1.0),
        "elapsed_seconds": 61.2,
    }
    assert footer(meta) == (
        "2 CPUs, load average 1.50 at start, 2.25 at end; Python 3.12.1; hiredis on;"
        " sidecar_fn from the dev tree; bench took 61 s"
    )
