"""Admission to the Salesforce data routes: request size, session, daily API usage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

from chalicelib.api_limits import HEADER, ApiUsage
from chalicelib.config import FarmConfig
from chalicelib.errors import FarmError, invalid_session
from chalicelib.oauth import ClientCredentials, OAuthError, SessionStore, instance_url

TOKEN_PATH = "/services/oauth2/token"
DATA_PATH = "/services/data"
DATA_ROOT = DATA_PATH + "/{version}"
MAX_REQUEST_HEAD = 16_384


class RequestLike(Protocol):
    """What admission reads from a request (Chalice's Request fits)."""

    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def context(self) -> Mapping[str, Any]: ...
    @property
    def path(self) -> str: ...
    @property
    def query_params(self) -> Any: ...


def uri_too_long() -> FarmError:
    """414, the URI alone past 16,384 bytes."""
    return FarmError(414, "URI_TOO_LONG", f"The URI is longer than {MAX_REQUEST_HEAD} bytes")


def head_too_large() -> FarmError:
    """431, URI and headers together past 16,384 bytes."""
    return FarmError(
        431,
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        f"The URI and headers together are longer than {MAX_REQUEST_HEAD} bytes",
    )


def request_uri_length(request: RequestLike) -> int:
    """Bytes of path plus query string, re-encoded (the farm sees them decoded)."""
    path = str(request.context.get("path", request.path))
    params = request.query_params
    if not params:
        return len(path.encode())
    pairs = [
        f"{quote(name, safe='')}={quote(value, safe='')}"
        for name in params
        for value in params.getlist(name)
    ]
    return len(path.encode()) + 1 + len("&".join(pairs))


class SalesforceAccess:
    """Sessions, usage and the connected app's credentials of the farm's org."""

    limit_header = HEADER

    def __init__(self, config: FarmConfig) -> None:
        self.credentials = ClientCredentials(config.sf_client_id, config.sf_client_secret)
        self.sessions = SessionStore(config.sf_session_ttl_s)
        self.usage = ApiUsage(config.sf_daily_api_limit)

    def issue(self, presented: tuple[str, str], request: RequestLike) -> dict[str, Any]:
        """A token response for matching credentials; OAuthError invalid_client otherwise."""
        if not self.credentials.matches(*presented):
            raise OAuthError("invalid_client", "invalid client credentials")
        return self.sessions.issue(instance_url(request.headers, request.context, TOKEN_PATH))

    def admit(self, request: RequestLike) -> None:
        """Raise FarmError 414/431, 401 INVALID_SESSION_ID or 403 REQUEST_LIMIT_EXCEEDED."""
        uri = request_uri_length(request)
        if uri > MAX_REQUEST_HEAD:
            raise uri_too_long()
        headers = sum(len(k) + len(v) + 4 for k, v in request.headers.items())
        if uri + headers > MAX_REQUEST_HEAD:
            raise head_too_large()
        if not self.sessions.is_valid(request.headers.get("authorization")):
            raise invalid_session()
        self.usage.count()

    def refusal_headers(self, error: FarmError) -> dict[str, str]:
        """Extra headers of a refusal: a challenge for 401."""
        return {"WWW-Authenticate": "Token"} if error.status == 401 else {}

    def limit_info(self) -> str:
        """The `Sforce-Limit-Info` value."""
        return self.usage.header()
