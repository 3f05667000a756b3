"""httpx failures classed as worth another attempt or not, with a message naming what failed."""

from __future__ import annotations

import httpx
import pytest

from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.http_errors import classified_http_errors
from sidecar_fn.retries import Retryable


@pytest.mark.parametrize(
    ("raised", "becomes", "message"),
    [
        (httpx.RemoteProtocolError("closed"), Retryable, r"^HTTP protocol error \(RemoteProtocol"),
        (httpx.ConnectError("refused"), Retryable, r"^ConnectError: 'refused'$"),
        (httpx.TooManyRedirects("loop"), SourceUnavailable, r"^login failed \(TooManyRedirects\)$"),
        (SourceUnavailable("as raised"), SourceUnavailable, r"^as raised$"),
    ],
    ids=["protocol", "transport", "other-httpx", "not-httpx"],
)
def test_each_failure_becomes_what_the_retry_loop_expects(
    raised: Exception, becomes: type[Exception], message: str
) -> None:
    with pytest.raises(becomes, match=message), classified_http_errors("login"):
        raise raised
