"""The Lambda-like layout holds the function and its requirements, nothing else."""

from __future__ import annotations

from pathlib import Path

from bench.coldstart import REPO, lambda_layout, requirement_closure


def test_closure_follows_dependencies_of_the_requirements() -> None:
    names = requirement_closure(REPO / "sidecar_fn" / "requirements.txt")
    assert {"redis", "httpx", "orjson", "aws-lambda-powertools", "hiredis"} <= names
    assert {"httpcore", "h11"} <= names
    assert "chalice" not in names
    assert "click" not in names


def test_layout_has_the_function_and_only_its_distributions(tmp_path: Path) -> None:
    task = lambda_layout(tmp_path / "task")
    entries = {path.name for path in task.iterdir()}
    assert (task / "sidecar_fn" / "handler.py").is_file()
    assert {"redis", "httpx", "orjson", "aws_lambda_powertools"} <= entries
    assert not {"chalice", "click", "fakeredis", "bench", "local"} & entries
    assert not list((task / "sidecar_fn").rglob("__pycache__"))
