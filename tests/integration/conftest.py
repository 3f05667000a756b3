"""Integration fixtures: moto's SQS with throwaway credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.farm_server import FarmServer, start_farm
from tests.conftest import missing
from tests.integration.redis_cluster import LocalCluster, tools_missing
from tests.integration.sqs_queues import MOTO_CREDENTIALS, REGION


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An SQS client on moto's in-memory backend, with throwaway credentials and no farm token."""
    for name, value in MOTO_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FARM_API_TOKEN", raising=False)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A real three-primary Redis Cluster of this test's own (fails in CI without the tools)."""
    problem = tools_missing()
    if problem is not None:
        missing(f"a local Redis Cluster is required: {problem}")
    local = LocalCluster(tmp_path / "cluster")
    try:
        local.create()
        local.wait_healthy()
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def farm() -> Iterator[FarmServer]:
    """The farm over real HTTP on a free local port, one per test module."""
    with start_farm() as server:
        yield server


@pytest.fixture
def quiet_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools metrics switched off, so a handler test prints no EMF lines."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
