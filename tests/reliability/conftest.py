"""Fixtures of the reliability suite: private Redis, hostile source of truth, sidecar builder."""

from __future__ import annotations

import importlib
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import missing

from .evil_sot import EvilSourceOfTruth, RecordingServer, loopback_alias_available
from .ledger import ReadStreams, read_ledger
from .redis_server import PrivateRedis

SidecarFactory = Callable[..., Any]
FAST_RECOVERY = {
    "AOS_SOT_BREAKER_RESET_SECONDS": "0.2",
    "AOS_SOT_BACKOFF_SECONDS": "0.01",
    "AOS_VERIFY_SHARE": "1",
}


def sidecar_env(keys: Mapping[str, str], redis_url: str, farm_url: str) -> dict[str, str]:
    """Sidecar environment for one test: its key names, quick recovery, Redis and farm."""
    return {**keys, **FAST_RECOVERY, "REDIS_URL": redis_url, "FARM_URL": farm_url}


def require(module: str) -> Any:
    """Import `module` or skip: the part of the product it holds has not landed yet."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
            missing(f"{module} is not available yet")
        raise


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private redis-server (AOF on, fsync always) that the test may stop and restart."""
    server = PrivateRedis(tmp_path / "redis-data")
    server.directory.mkdir()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def tls_redis(tmp_path: Path, tls_material: dict[str, str]) -> Iterator[PrivateRedis]:
    """A private redis-server speaking only TLS with the test certificates (fails in CI,
    skips elsewhere, when redis-server was built without TLS)."""
    server = PrivateRedis(tmp_path, tls=tls_material)
    try:
        server.start()
    except RuntimeError as exc:
        missing(f"redis-server without TLS support: {exc}")
    yield server
    server.kill()


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A self-signed certificate for 127.0.0.1 (cert, key, ca paths)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    result = subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        missing(f"openssl could not make a certificate: {result.stderr.decode()[-200:]}")
    return {"cert": str(cert), "key": str(key), "ca": str(cert)}


@pytest.fixture
def bystander() -> Iterator[RecordingServer]:
    """A server on another host (127.0.0.2) that must never receive a request."""
    server = RecordingServer("127.0.0.2" if loopback_alias_available() else "127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def evil_sot(bystander: RecordingServer) -> Iterator[EvilSourceOfTruth]:
    """A source of truth on 127.0.0.1 whose behaviour the test switches; redirects go off-host."""
    host = "127.0.0.2" if bystander.host == "127.0.0.2" else "localhost"
    server = EvilSourceOfTruth(redirect_to=f"http://{host}:{bystander.port}")
    yield server
    server.close()


@pytest.fixture
def unique_keys() -> dict[str, str]:
    """Unique source id and stream names for a private Redis (nothing shared to clean)."""
    tag = uuid.uuid4().hex[:12]
    return {
        "AOS_SOURCE_ID": f"rel-{tag}",
        "AOS_STREAM": f"rel:{tag}:invoices",
        "AOS_DLQ_STREAM": f"rel:{tag}:invoices:dlq",
    }


@pytest.fixture
def read_streams(redis_client: redis.Redis, keyspace: Any) -> ReadStreams:
    """Read this test's main and dead-letter streams, as they are at each call."""
    return lambda: read_ledger(redis_client, keyspace.stream, keyspace.dlq_stream)


@pytest.fixture
def make_sidecar() -> Iterator[SidecarFactory]:
    """Build sidecars the way the Lambda handler does: Settings.from_env, then build_sidecar."""
    settings_module = require("sidecar_fn.settings")
    wiring = require("sidecar_fn.wiring")

    def build(
        env: Mapping[str, str], *, redis_client: redis.Redis | None = None, **kwargs: Any
    ) -> Any:
        settings = settings_module.Settings.from_env(dict(env))
        return wiring.build_sidecar(settings, redis_client=redis_client, **kwargs)

    yield build


@pytest.fixture
def evil_sidecar(
    evil_sot: EvilSourceOfTruth, make_sidecar: SidecarFactory, keyspace: Any, redis_url: str
) -> Any:
    """A sidecar on this test's keys on the real Redis, asking the hostile source of truth."""
    return make_sidecar(sidecar_env(keyspace.env(), redis_url, evil_sot.url))


@pytest.fixture
def farm_factory() -> Iterator[Callable[[Mapping[str, str] | None], Any]]:
    """Start farms (`chalice local` subprocesses when env is given); all closed afterwards."""
    farm_server = require("local.farm_server")
    started: list[Any] = []

    def start(env: Mapping[str, str] | None = None) -> Any:
        farm = farm_server.start_farm(env=dict(env) if env is not None else None)
        started.append(farm)
        return farm

    yield start
    for farm in started:
        farm.close()
