"""The farm API token from AWS Secrets Manager, read once per cold start and cached."""

from __future__ import annotations

import threading
from typing import Any

import orjson

from sidecar_fn.errors import SettingsError

_cache: dict[str, str] = {}
_lock = threading.Lock()
TOKEN_KEYS = ("token", "FARM_API_TOKEN", "farm_api_token")


def _token_from(secret_string: str) -> str:
    try:
        document = orjson.loads(secret_string)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        for key in TOKEN_KEYS:
            value = document.get(key)
            if isinstance(value, str) and value:
                return value
        raise SettingsError(f"secret JSON holds none of the keys {list(TOKEN_KEYS)}")
    token = secret_string.strip()
    if not token:
        raise SettingsError("secret is empty")
    return token


def read_token(secret_arn: str, *, client: Any = None) -> str:
    """The token stored in `secret_arn`: a plain string, or JSON with a `token` key.

    The first read per secret calls Secrets Manager (boto3 imported only then); later
    reads in the same process come from the cache.
    """
    with _lock:
        cached = _cache.get(secret_arn)
        if cached is not None:
            return cached
        if client is None:
            import boto3

            client = boto3.client("secretsmanager")
        try:
            answer = client.get_secret_value(SecretId=secret_arn)
        except Exception as exc:
            raise SettingsError(
                f"cannot read FARM_API_TOKEN_SECRET_ARN secret: {type(exc).__name__}"
            ) from exc
        secret_string = answer.get("SecretString")
        if not isinstance(secret_string, str):
            raise SettingsError("FARM_API_TOKEN_SECRET_ARN secret has no SecretString")
        token = _token_from(secret_string)
        _cache[secret_arn] = token
        return token


def clear_cache() -> None:
    """Forget cached tokens (a new cold start)."""
    with _lock:
        _cache.clear()
