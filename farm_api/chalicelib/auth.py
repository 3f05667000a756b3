"""Bearer-token check in constant time."""

from __future__ import annotations

import hmac

_SCHEME = "bearer "


def is_authorized(authorization: str | None, token: str | None) -> bool:
    """True when no token is configured, or the header is `Bearer <token>` exactly."""
    if token is None:
        return True
    if authorization is None or authorization[: len(_SCHEME)].lower() != _SCHEME:
        return False
    presented = authorization[len(_SCHEME) :].strip().encode("utf-8", "surrogatepass")
    return hmac.compare_digest(presented, token.encode("utf-8", "surrogatepass"))
