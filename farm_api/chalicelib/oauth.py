"""OAuth 2.0 client credentials flow and the sessions it opens, held in this process.

Sessions live in a dict guarded by a lock: one `chalice local` process (threads included)
shares them; several processes or Lambda instances would not (a token issued by one is
unknown to another), which the farm accepts as a simulator.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

ORG_ID = "00D5g000004FARMEAW"
USER_ID = "0055g00000FARMUAAA"
MAX_SESSIONS = 10_000
_FORM_LIMIT = 4096


class OAuthError(Exception):
    """A token endpoint error: 400 `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> str:
        """The OAuth error body."""
        return orjson.dumps({"error": self.error, "error_description": self.description}).decode()


@dataclass(frozen=True)
class ClientCredentials:
    """The connected app's consumer key and secret."""

    client_id: str
    client_secret: str

    def matches(self, client_id: str, client_secret: str) -> bool:
        """Both equal, compared in constant time."""
        id_ok = hmac.compare_digest(_bytes(client_id), _bytes(self.client_id))
        secret_ok = hmac.compare_digest(_bytes(client_secret), _bytes(self.client_secret))
        return id_ok and secret_ok


def presented_credentials(body: bytes | str, authorization: str | None) -> tuple[str, str]:
    """Client id and secret from a token request: HTTP Basic or the form; OAuthError if bad."""
    form = _form(body)
    grant = form.get("grant_type")
    if grant is None:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    if grant != "client_credentials":
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    if authorization is not None and authorization[:6].lower() == "basic ":
        return _basic(authorization[6:])
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    if not client_id or client_secret is None:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    return client_id, client_secret


def _form(body: bytes | str) -> dict[str, str]:
    if len(body) > _FORM_LIMIT:
        raise OAuthError("invalid_request", "request body too large")
    try:
        text = body.decode("ascii") if isinstance(body, bytes) else body.encode("ascii").decode()
        pairs = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "malformed form body") from None
    repeated = sorted(name for name, values in pairs.items() if len(values) > 1)
    if repeated:
        raise OAuthError("invalid_request", f"parameter given more than once: {repeated[0][:40]}")
    return {name: values[0] for name, values in pairs.items()}


def _basic(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "invalid client credentials") from None
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "invalid client credentials")
    return client_id, client_secret


def _bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


class SessionStore:
    """Access tokens issued by this process and when they expire (monotonic seconds)."""

    def __init__(
        self,
        ttl_s: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self, instance_url: str) -> dict[str, Any]:
        """Open a session; the token response Salesforce gives for client credentials."""
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(72)}"
        now = self._clock()
        with self._lock:
            if len(self._expiry) >= MAX_SESSIONS:
                self._expiry = {t: end for t, end in self._expiry.items() if end > now}
                while len(self._expiry) >= MAX_SESSIONS:
                    del self._expiry[next(iter(self._expiry))]
            self._expiry[token] = now + self.ttl_s
        issued_at = str(int(self._wall_clock() * 1000))
        identity = f"{instance_url}/id/{ORG_ID}/{USER_ID}"
        signature = hmac.new(
            token.encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()
        return {
            "access_token": token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(signature).decode(),
        }

    def is_valid(self, authorization: str | None) -> bool:
        """True for `Bearer <token>` (or `OAuth <token>`) naming a live session."""
        if authorization is None:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return False
        token = token.strip()
        with self._lock:
            expiry = self._expiry.get(token)
            if expiry is None:
                return False
            if expiry <= self._clock():
                del self._expiry[token]
                return False
        return True


def instance_url(headers: Mapping[str, str], context: Mapping[str, Any], route_path: str) -> str:
    """The farm's base URL as the client reached it: scheme, Host and any stage prefix."""
    scheme = headers.get("x-forwarded-proto", "http").split(",")[0].strip().lower()
    if scheme not in ("http", "https"):
        scheme = "http"
    host = headers.get("host", "localhost")
    path = str(context.get("path", route_path))
    prefix = path[: -len(route_path)] if path.endswith(route_path) else ""
    return f"{scheme}://{host}{prefix.rstrip('/')}"
