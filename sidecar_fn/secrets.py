"""The farm API token: validated once when loaded, from the environment or from a Secrets
Manager secret read through Powertools parameters (cached for a maximum age, re-read on 401)."""

from __future__ import annotations

import threading
from typing import Any, Protocol

import orjson

from sidecar_fn.errors import SettingsError

TOKEN_KEYS = ("token", "FARM_API_TOKEN", "farm_api_token")
REDIS_PASSWORD_KEYS = ("password", "auth_token", "token")
DEFAULT_MAX_AGE_S = 300


def visible_token(raw: str, where: str) -> str:
    """`raw` without surrounding whitespace, when what is left is visible ASCII only.

    Anything else (a newline, a control character, a non-ASCII letter) would be refused by
    the HTTP client with an error quoting the whole header, so it is refused here with a
    SettingsError that names `where` and never echoes the value.
    """
    token = raw.strip()
    if not token:
        raise SettingsError(f"{where} holds an empty token")
    if not all("!" <= char <= "~" for char in token):
        raise SettingsError(
            f"{where} holds a token with characters other than visible ASCII; refused"
        )
    return token


def _token_from(
    secret_string: str,
    keys: tuple[str, ...] = TOKEN_KEYS,
    where: str = "FARM_API_TOKEN_SECRET_ARN secret",
) -> str:
    try:
        document = orjson.loads(secret_string)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        for key in keys:
            value = document.get(key)
            if isinstance(value, str) and value:
                return visible_token(value, where)
        raise SettingsError(f"{where} JSON holds none of the keys {list(keys)}")
    return visible_token(secret_string, where)


class TokenSource(Protocol):
    """Where an HTTP adapter gets its bearer token."""

    def current(self) -> str:
        """The token to send now."""
        ...

    def refreshed(self, rejected: str) -> str:
        """A token read again after `rejected` was refused (401)."""
        ...


class StaticToken:
    """A token fixed for the life of the process (FARM_API_TOKEN)."""

    def __init__(self, token: str) -> None:
        self._token = visible_token(token, "FARM_API_TOKEN")

    def current(self) -> str:
        """The token."""
        return self._token

    def refreshed(self, rejected: str) -> str:
        """The same token: there is nothing to re-read."""
        return self._token


def _get_secret(secret_arn: str, max_age_s: int, force: bool) -> Any:
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(secret_arn, max_age=max_age_s, force_fetch=force)


class SecretToken:
    """The token in a Secrets Manager secret: a plain string, or JSON with a `token` key.

    Reads go through Powertools parameters, which keep the value for `max_age_s` seconds,
    so a rotated secret reaches every warm execution environment within that age; a 401
    re-reads it at once (`refreshed`), one thread at a time.
    """

    def __init__(self, secret_arn: str, *, max_age_s: int = DEFAULT_MAX_AGE_S) -> None:
        self._arn = secret_arn
        self._max_age_s = max_age_s
        self._lock = threading.Lock()

    def _read(self, force: bool) -> str:
        try:
            value = _get_secret(self._arn, self._max_age_s, force)
        except Exception as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            raise SettingsError(
                f"cannot read FARM_API_TOKEN_SECRET_ARN secret: {type(cause).__name__}"
            ) from exc
        if not isinstance(value, str):
            raise SettingsError("FARM_API_TOKEN_SECRET_ARN secret has no SecretString")
        return _token_from(value)

    def current(self) -> str:
        """The token, from the cache while it is younger than the maximum age."""
        return self._read(force=False)

    def refreshed(self, rejected: str) -> str:
        """The secret read again, unless another thread already brought a different token."""
        with self._lock:
            token = self._read(force=False)
            if token != rejected:
                return token
            return self._read(force=True)


def read_redis_password(secret_arn: str) -> str:
    """The Redis AUTH token or password in `secret_arn` (REDIS_AUTH_SECRET_ARN): a plain
    string, or JSON with a `password`, `auth_token` or `token` key; read once per cold start."""
    where = "REDIS_AUTH_SECRET_ARN secret"
    try:
        value = _get_secret(secret_arn, DEFAULT_MAX_AGE_S, False)
    except Exception as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        raise SettingsError(f"cannot read {where}: {type(cause).__name__}") from exc
    if not isinstance(value, str):
        raise SettingsError(f"{where} has no SecretString")
    return _token_from(value, REDIS_PASSWORD_KEYS, where)


def read_token(secret_arn: str, *, max_age_s: int = DEFAULT_MAX_AGE_S) -> str:
    """The token stored in `secret_arn` now (cached for `max_age_s` seconds)."""
    return SecretToken(secret_arn, max_age_s=max_age_s).current()


def clear_cache() -> None:
    """Forget cached secrets (a new cold start)."""
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]
