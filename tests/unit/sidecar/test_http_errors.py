"""httpx failures classed as worth another attempt or not, with a message naming what failed."""

from __future__ import annotations

import httpx
import pytest

from sidecar_fn.errors import SourceUnavailable
from sidecar_fn.http_errors import classified_http_errors
from sidecar_fn.retries import Retryable


def test_a_broken_protocol_is_worth_another_attempt() -> None:
    with (
        pytest.raises(Retryable, match=r"HTTP protocol error \(RemoteProtocolError\)"),
        classified_http_errors("lookup"),
    ):
        raise httpx.RemoteProtocolError("peer closed")


def test_a_transport_failure_is_worth_another_attempt_and_echoes_the_cause() -> None:
    with (
        pytest.raises(Retryable, match=r"ConnectError: 'refused'"),
        classified_http_errors("lookup"),
    ):
        raise httpx.ConnectError("refused")


def test_any_other_httpx_error_makes_the_source_unavailable() -> None:
    with (
        pytest.raises(SourceUnavailable, match=r"^Salesforce login failed \(TooManyRedirects\)$"),
        classified_http_errors("Salesforce login"),
    ):
        raise httpx.TooManyRedirects("loop")


def test_other_exceptions_pass_unchanged() -> None:
    with pytest.raises(SourceUnavailable, match=r"^as raised$"), classified_http_errors("lookup"):
        raise SourceUnavailable("as raised")
