"""Fixtures for the farm's unit tests: Chalice test clients built from a FarmConfig."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from app import create_app
from chalice.test import Client
from chalicelib.config import FarmConfig
from chalicelib.faults import FaultInjector

FARM_DIR = Path(__file__).resolve().parents[3] / "farm_api"

ClientFactory = Callable[..., Client]


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Build a `chalice.test.Client` for a farm with the given configuration."""
    clients: list[Client] = []

    def make(config: FarmConfig | None = None, faults: FaultInjector | None = None) -> Client:
        app = create_app(config or FarmConfig(), faults=faults)
        client = Client(app, stage_name="dev", project_dir=str(FARM_DIR))
        clients.append(client)
        return client

    yield make


@pytest.fixture
def client(make_client: ClientFactory) -> Client:
    """A client for a farm with the default configuration and no token."""
    return make_client()
