"""The README's commands, run as written: the first command in a fresh copy of the
project, and the "against chalice local and a real Redis" example."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.unit.docs.readme_blocks import ROOT, block_with, readme_commands

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FARM_PORT = int(os.environ.get("TEST_README_FARM_PORT", "7152"))
_CLEARED = ("REDIS_URL", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CI")
_CLEARED_PREFIXES = ("AOS_", "FARM_", "POWERTOOLS_", "PIP_REQUIRE_VIRTUALENV")


def _user_env(**extra: str) -> dict[str, str]:
    """The environment of a user who has just opened a shell: no project variables."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _CLEARED and not name.startswith(_CLEARED_PREFIXES)
    }
    path = env.get("PATH", "").split(os.pathsep)
    venv_bin = os.environ.get("VIRTUAL_ENV")
    if venv_bin:
        path = [p for p in path if not p.startswith(venv_bin)]
    env["PATH"] = os.pathsep.join(path)
    env.update(extra)
    return env


def _fresh_copy(destination: Path) -> Path:
    """The project's files (tracked, or new and not ignored) copied to `destination`."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            target = destination / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def test_the_first_command_runs_the_pipeline_in_a_fresh_copy(tmp_path: Path) -> None:
    run_command, _check = readme_commands()
    copy = _fresh_copy(tmp_path / "aos")
    assert not (copy / ".venv").exists()
    result = subprocess.run(
        ["bash", "-c", run_command],
        cwd=copy,
        env=_user_env(),
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Run summary (done)" in result.stdout
    assert re.search(r"^  records read +1,000$", result.stdout, re.MULTILINE)
    assert re.search(r"^  reconciled +yes: ", result.stdout, re.MULTILINE)
    assert "Sample of repaired envelopes" in result.stdout
    assert "embedded in-memory Redis" in result.stderr


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def readme_farm() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The README's `chalice local` line, run as written but on a test port."""
    block = block_with(ROOT / "README.md", "chalice local")
    line = next(line for line in block if "chalice local" in line)
    directory, command = (part.strip() for part in line.split("&&"))
    assert directory == "cd farm_api"
    argv = [arg if arg != "8000" else str(FARM_PORT) for arg in shlex.split(command)]
    assert shutil.which(argv[0]), f"{argv[0]} is not on PATH"
    assert _free(FARM_PORT), f"port {FARM_PORT} is busy"
    process = subprocess.Popen(
        argv,
        cwd=ROOT / "farm_api",
        env=_user_env(PATH=os.environ["PATH"]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{FARM_PORT}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        yield process, url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_the_resume_example_resumes_and_the_farm_leaves_no_process_behind(
    readme_farm: tuple[subprocess.Popen[bytes], str], redis_url: str, keyspace: Any
) -> None:
    process, farm_url = readme_farm
    block = block_with(ROOT / "README.md", "run_sidecar.py --farm-url")
    runs = [line for line in block if "local/run_sidecar.py" in line]
    assert len(runs) == 2
    summaries = []
    for line in runs:
        command = line.replace("http://127.0.0.1:8000", farm_url)
        command = command.replace("redis://127.0.0.1:6379/0", redis_url)
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=ROOT,
            env=_user_env(PATH=os.environ["PATH"], **keyspace.env()),
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        summaries.append(result.stdout)
    assert re.search(r"^  cursor +0  -> 5,000 ", summaries[0], re.MULTILINE)
    assert re.search(r"^  cursor +5,000  -> 10,000 ", summaries[1], re.MULTILINE)

    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while not _free(FARM_PORT):
        assert time.monotonic() < deadline, "a chalice local process still serves the port"
        time.sleep(0.2)
