"""Shared test fixtures: real Redis (fails in CI), isolated key names, moto Secrets Manager."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import pytest
import redis

from local.redis_state import checkpoint_key, stream_identity

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def in_ci() -> bool:
    """True when the `CI` environment variable says the tests run in CI (read at call time)."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(message: str) -> NoReturn:
    """A real service or tool the test needs is missing: fail in CI, skip elsewhere."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _redis_reachable(url: str) -> str | None:
    """Return None when Redis answers PING at `url`, else the reason it does not."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a real Redis server. In CI a missing server fails the test; elsewhere it skips."""
    problem = _redis_reachable(TEST_REDIS_URL)
    if problem is not None:
        message = f"real Redis required at {TEST_REDIS_URL} ({problem}); set TEST_REDIS_URL"
        missing(message)
    return TEST_REDIS_URL


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the real Redis server (bytes responses)."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@dataclass(frozen=True)
class KeySpace:
    """Unique key names for one test so that tests never see each other's data."""

    source_id: str
    stream: str
    dlq_stream: str

    @property
    def checkpoint_key(self) -> str:
        """The checkpoint of the default stream (seed 0, chaos on)."""
        return self.checkpoint_key_of(0, True)

    def checkpoint_key_of(self, seed: int, chaos: bool) -> str:
        """The checkpoint of the stream with `seed` and `chaos`."""
        return checkpoint_key(self.source_id, stream_identity(seed, chaos))

    def env(self) -> dict[str, str]:
        """The sidecar environment variables that point at these keys."""
        return {
            "AOS_SOURCE_ID": self.source_id,
            "AOS_STREAM": self.stream,
            "AOS_DLQ_STREAM": self.dlq_stream,
        }


def _delete_keyspace(client: redis.Redis, keys: KeySpace) -> None:
    client.unlink(keys.stream, keys.dlq_stream, keys.checkpoint_key)
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"aos:*{keys.source_id}*", count=5000):
        batch.append(key)
        if len(batch) >= 5000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


@pytest.fixture
def keyspace(redis_client: redis.Redis) -> Iterator[KeySpace]:
    """Unique source id and stream names on the real Redis; deleted after the test."""
    tag = uuid.uuid4().hex[:12]
    keys = KeySpace(
        source_id=f"test-{tag}",
        stream=f"test:{tag}:invoices",
        dlq_stream=f"test:{tag}:invoices:dlq",
    )
    yield keys
    _delete_keyspace(redis_client, keys)


@pytest.fixture
def secretsmanager(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Secrets Manager client on moto, with throwaway credentials and an empty secret cache."""
    import boto3
    from moto import mock_aws

    from sidecar_fn import secrets

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    secrets.clear_cache()
    with mock_aws():
        yield boto3.client("secretsmanager")
    secrets.clear_cache()
