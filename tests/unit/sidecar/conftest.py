"""Fixtures for the sidecar unit tests: fakes for every port, an embedded fakeredis."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import fakeredis
import pytest

from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar
from sidecar_fn.wiring import build_sidecar

from .fakes import CapturedLogger, FakeSource, RecordingMetrics

SidecarWith = Callable[[Settings], IngestSidecar]
"""Builds a sidecar from other settings on the same fakes as the `sidecar` fixture."""


@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeRedis]:
    """A private in-memory Redis (with Lua scripting)."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    yield client
    client.close()


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def captured() -> CapturedLogger:
    return CapturedLogger()


@pytest.fixture
def settings() -> Settings:
    return Settings(
        source_id="unit-src", stream="unit:main", dlq_stream="unit:dlq", verify_share=1.0
    )


@pytest.fixture
def sidecar_with(
    fake_redis: fakeredis.FakeRedis,
    source: FakeSource,
    metrics: RecordingMetrics,
    captured: CapturedLogger,
) -> SidecarWith:
    """Wire a sidecar from the given settings onto this test's fakes."""

    def build(settings: Settings) -> IngestSidecar:
        return build_sidecar(
            settings,
            redis_client=fake_redis,
            source=source,
            metrics=metrics,
            logger=captured.logger,
        )

    return build


@pytest.fixture
def sidecar(settings: Settings, sidecar_with: SidecarWith) -> IngestSidecar:
    return sidecar_with(settings)
