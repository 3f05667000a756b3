"""Salesforce client credentials and the access token they buy, kept per execution
environment and replaced once when Salesforce says the session is invalid."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar_fn.errors import SettingsError

SECRET_MAX_AGE_S = 300
CLIENT_ID_KEYS = ("client_id", "SALESFORCE_CLIENT_ID", "consumer_key")
CLIENT_SECRET_KEYS = ("client_secret", "SALESFORCE_CLIENT_SECRET", "consumer_secret")


@dataclass(frozen=True)
class ClientCredentials:
    """A connected app's consumer key and secret (the secret never in repr)."""

    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class SalesforceSession:
    """An access token and the instance it is valid for."""

    access_token: str = field(repr=False)
    instance_url: str


CredentialSource = Callable[[bool], ClientCredentials]
"""Returns the credentials; `True` asks for a fresh read past any cache."""


def credentials_from_document(document: Any) -> ClientCredentials:
    """Credentials from a decoded secret: a JSON object with `client_id`, `client_secret`."""
    if not isinstance(document, Mapping):
        raise SettingsError("the Salesforce credentials secret must be a JSON object")
    client_id = next((document[k] for k in CLIENT_ID_KEYS if document.get(k)), None)
    secret = next((document[k] for k in CLIENT_SECRET_KEYS if document.get(k)), None)
    if not isinstance(client_id, str) or not isinstance(secret, str):
        raise SettingsError(
            "the Salesforce credentials secret needs string keys client_id and client_secret"
        )
    return ClientCredentials(client_id, secret)


def static_credentials(client_id: str, client_secret: str) -> CredentialSource:
    """Credentials fixed at cold start (SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET)."""
    credentials = ClientCredentials(client_id, client_secret)
    return lambda _fresh: credentials


def secret_credentials(
    secret_arn: str,
    *,
    max_age_s: int = SECRET_MAX_AGE_S,
    get_secret: Callable[..., Any] | None = None,
) -> CredentialSource:
    """Credentials read from a Secrets Manager JSON secret through Powertools parameters,
    cached for `max_age_s`: a rotated secret is picked up without a redeploy."""

    def read(fresh: bool) -> ClientCredentials:
        getter = get_secret
        if getter is None:
            from aws_lambda_powertools.utilities import parameters

            getter = parameters.get_secret
        try:
            document = getter(secret_arn, transform="json", max_age=max_age_s, force_fetch=fresh)
        except Exception as exc:
            raise SettingsError(
                f"cannot read SALESFORCE_CREDENTIALS_SECRET_ARN secret: {type(exc).__name__}"
            ) from exc
        return credentials_from_document(document)

    return read


class SessionKeeper:
    """The one session of this execution environment: opened on first use, replaced once
    per invalid session however many threads saw it fail."""

    def __init__(self, login: Callable[[bool, float], SalesforceSession]) -> None:
        self._login = login
        self._lock = threading.Lock()
        self._session: SalesforceSession | None = None
        self.logins = 0

    def current(self, deadline: float) -> SalesforceSession:
        """The live session, logging in (by `deadline`) when there is none."""
        with self._lock:
            if self._session is None:
                self._session = self._login(False, deadline)
                self.logins += 1
            return self._session

    def replace(self, stale: SalesforceSession, deadline: float) -> SalesforceSession:
        """A new session in place of `stale`; a thread that comes second gets the one the
        first opened. The login reads the credentials afresh (a rotated secret)."""
        with self._lock:
            if self._session is None or self._session is stale:
                self._session = None
                self._session = self._login(True, deadline)
                self.logins += 1
            return self._session
