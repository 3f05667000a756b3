"""Integration fixtures: moto's SQS with throwaway credentials."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.integration.sqs_queues import MOTO_CREDENTIALS, REGION


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An SQS client on moto's in-memory backend, with throwaway credentials and no farm token."""
    for name, value in MOTO_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FARM_API_TOKEN", raising=False)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)
