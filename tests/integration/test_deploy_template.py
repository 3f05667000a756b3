"""template.yaml lints clean, and its CodeUri/Handler pair imports the handler as Lambda does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from bench.coldstart import lambda_python, link_distributions, requirement_closure
from local.farm_server import FarmServer, start_farm
from tests.conftest import KeySpace, missing
from tests.sam_template import load_template

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
# Lambda's Python runtime ships these; the package may rely on them without bundling.
LAMBDA_RUNTIME_DISTRIBUTIONS = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
}

# Runs as `python -I -S` from an unrelated directory: like Lambda, the path holds the
# package root (ARTIFACTS_DIR, i.e. /var/task), then the runtime's own packages, then the
# standard library; neither the repository nor this interpreter's site-packages.
LAMBDA_BOOTSTRAP = r"""
import importlib, json, sys

task_root, runtime_root, handler_spec, event_file = sys.argv[1:5]
sys.path[:0] = [task_root, runtime_root]

module_name, _, attribute = handler_spec.rpartition(".")
handler = getattr(importlib.import_module(module_name), attribute)
result = {"callable": callable(handler), "path": sys.path}
if event_file:
    class Context:
        function_name = "aos-sidecar"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:aos-sidecar"
        memory_limit_in_mb = 512
        aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
        log_group_name = "/aws/lambda/aos-sidecar"
        log_stream_name = "2026/11/25/[$LATEST]abc"

        def get_remaining_time_in_millis(self):
            return 60_000

    with open(event_file, encoding="utf-8") as f:
        result["response"] = handler(json.load(f), Context())
result["module_files"] = {
    name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())
}
print("RESULT " + json.dumps(result))
"""


@dataclass(frozen=True)
class Package:
    """A built function package: what `make` produced, then with its dependencies added."""

    task_root: Path
    runtime_root: Path
    built_entries: frozenset[str]


def _handler_spec() -> str:
    handler = load_template()["Resources"]["SidecarFunction"]["Properties"]["Handler"]
    assert isinstance(handler, str)
    return handler


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    """The function package as `sam build` makes it.

    The Makefile target runs for real with pip replaced by a no-op; the requirements'
    already-installed distributions are then added the way pip -t lays them out.
    """
    python312 = lambda_python()
    if python312 is None:
        message = "CPython 3.12 (the Lambda runtime's) is needed to compile the package"
        missing(message)
    root = tmp_path_factory.mktemp("package")
    task_root, runtime_root = root / "task", root / "runtime"
    subprocess.run(
        [
            "make",
            "-s",
            "build-SidecarFunction",
            f"ARTIFACTS_DIR={task_root}",
            "PIP=true",
            f"LAMBDA_PYTHON={python312}",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    built = frozenset(p.name for p in task_root.iterdir())
    link_distributions(requirement_closure(ROOT / "sidecar_fn" / "requirements.txt"), task_root)
    link_distributions(LAMBDA_RUNTIME_DISTRIBUTIONS, runtime_root)
    return Package(task_root, runtime_root, built)


def _run_in_lambda_layout(
    package: Package, tmp_path: Path, *, env: dict[str, str] | None = None, event: str = ""
) -> dict[str, Any]:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir(exist_ok=True)
    base = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1"}
    command = [sys.executable, "-I", "-S", "-c", LAMBDA_BOOTSTRAP]
    command += [str(package.task_root), str(package.runtime_root), _handler_spec(), event]
    result = subprocess.run(
        command,
        cwd=elsewhere,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    parsed: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return parsed


def test_build_target_packages_only_the_sidecar(package: Package) -> None:
    assert package.built_entries == {"sidecar_fn"}
    assert (package.task_root / "sidecar_fn" / "handler.py").is_file()
    compiled = {p.name for p in (package.task_root / "sidecar_fn").rglob("*.pyc")}
    assert compiled
    assert all(name.endswith(".cpython-312.pyc") for name in compiled), compiled


def test_build_target_installs_requirements_for_the_lambda_runtime(tmp_path: Path) -> None:
    dry_run = subprocess.run(
        ["make", "-n", "build-SidecarFunction", f"ARTIFACTS_DIR={tmp_path}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (pip_line,) = [line for line in dry_run.splitlines() if " pip install " in line]
    assert f'-r sidecar_fn/requirements.lock -t "{tmp_path}"' in pip_line
    assert "--require-hashes" in pip_line
    assert "--python-version 3.12" in pip_line
    assert "--only-binary=:all:" in pip_line
    assert "--platform manylinux2014_x86_64" in pip_line
    assert load_template()["Resources"]["SidecarFunction"]["Properties"]["Architectures"] == [
        "x86_64"
    ]


def test_template_handler_imports_from_the_package_alone(package: Package, tmp_path: Path) -> None:
    result = _run_in_lambda_layout(package, tmp_path)

    assert result["callable"] is True
    assert str(ROOT) not in result["path"]
    assert not any("site-packages" in p for p in result["path"])
    files = result["module_files"]
    assert "sidecar_fn.handler" in files
    allowed = (package.task_root, package.runtime_root, Path(sysconfig.get_paths()["stdlib"]))
    for name, file in files.items():
        if name == "sidecar_fn" or name.startswith("sidecar_fn."):
            assert Path(file).is_relative_to(package.task_root), (name, file)
        if file is not None:
            assert any(Path(file).is_relative_to(root) for root in allowed), (name, file)


@pytest.fixture
def farm() -> Iterator[FarmServer]:
    with start_farm() as server:
        yield server


def test_packaged_handler_processes_an_sqs_event(
    package: Package,
    tmp_path: Path,
    farm: FarmServer,
    redis_url: str,
    redis_client: redis.Redis,
    keyspace: KeySpace,
) -> None:
    event = EVENTS / "sqs_batch.json"
    records = json.loads(event.read_text())["Records"]
    env = {"REDIS_URL": redis_url, "FARM_URL": farm.url, **keyspace.env()}

    result = _run_in_lambda_layout(package, tmp_path, env=env, event=str(event))

    assert result["response"] == {"batchItemFailures": []}
    main = redis_client.xlen(keyspace.stream)
    dead = redis_client.xlen(keyspace.dlq_stream)
    assert main + dead == len(records)
    assert main > 0


def test_cfn_lint_passes_the_template_and_fails_a_broken_copy(tmp_path: Path) -> None:
    cfn_lint = shutil.which("cfn-lint")
    assert cfn_lint is not None, "cfn-lint is a dev dependency"
    broken = tmp_path / "broken.yaml"
    text = (ROOT / "template.yaml").read_text()
    broken.write_text(text.replace("!GetAtt IngestDeadLetterQueue.Arn", "!GetAtt NoSuchQueue.Arn"))

    result = subprocess.run(
        [cfn_lint, "--format", "parseable", "template.yaml", str(broken)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    findings = result.stdout.splitlines()
    assert result.returncode != 0
    assert findings, result.stderr
    assert all(line.startswith(str(broken)) for line in findings), result.stdout
    assert any("NoSuchQueue" in line for line in findings)
