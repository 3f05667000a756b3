"""How an httpx failure of a source-of-truth exchange counts: worth another attempt, or not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.http_body import echo
from sidecar_fn.retries import Retryable


@contextmanager
def classified_http_errors(what: str) -> Iterator[None]:
    """httpx errors raised in the block become Retryable (a broken protocol or transport:
    another attempt may get through) or SourceUnavailable ("`what` failed", naming the error
    type); every other exception passes unchanged."""
    try:
        yield
    except httpx.ProtocolError as exc:
        raise Retryable(f"HTTP protocol error ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise Retryable(f"{type(exc).__name__}: {echo(str(exc))}") from exc
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"{what} failed ({type(exc).__name__})") from exc
