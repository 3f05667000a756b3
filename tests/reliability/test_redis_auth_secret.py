"""The Redis password read from Secrets Manager (moto), never from the environment."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from sidecar_fn.errors import SettingsError
from sidecar_fn.settings import Settings
from sidecar_fn.wiring import build_redis_client

from .redis_server import PrivateRedis

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


@pytest.mark.parametrize("stored", ["auth-token-1", '{"password": "auth-token-1"}'])
def test_redis_auth_token_comes_from_the_secret(
    stored: str, secretsmanager: Any, private_redis: PrivateRedis
) -> None:
    admin = private_redis.client()
    admin.config_set("requirepass", "auth-token-1")
    admin.close()
    arn = secretsmanager.create_secret(Name="aos/redis", SecretString=stored)["ARN"]
    without = build_redis_client(Settings(redis_url=private_redis.url))
    with pytest.raises(redis.AuthenticationError):
        without.ping()
    client = build_redis_client(
        Settings.from_env({"REDIS_URL": private_redis.url, "REDIS_AUTH_SECRET_ARN": arn})
    )
    assert client.ping() is True
    client.close()


def test_an_unreadable_redis_secret_is_a_settings_error(secretsmanager: Any) -> None:
    settings = Settings(redis_auth_secret_arn="arn:aws:secretsmanager:eu-west-1:1:secret:none")
    with pytest.raises(SettingsError, match="REDIS_AUTH_SECRET_ARN"):
        build_redis_client(settings)
