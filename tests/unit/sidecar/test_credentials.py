"""Tokens validated once without echo, protocol errors as fixed text, credentials redacted."""

from __future__ import annotations

import httpx
import orjson
import pytest

from local.farm_stream import FarmStream, FarmUnavailable
from sidecar_fn.errors import SettingsError, SourceUnavailable
from sidecar_fn.redaction import redact_url
from sidecar_fn.secrets import _token_from, visible_token
from sidecar_fn.settings import Settings
from sidecar_fn.source_http import HttpSourceOfTruth

from .fakes import pristine


def test_surrounding_whitespace_is_stripped_from_a_token() -> None:
    assert _token_from(orjson.dumps({"token": "S3CRET\n"}).decode()) == "S3CRET"
    assert visible_token("  tok-1\r\n", "X") == "tok-1"


@pytest.mark.parametrize("token", ["S3C\nRET", "S3C\x00RET", "S3C RET", "S3CRÉT"])
def test_a_token_that_is_not_visible_ascii_is_refused_without_echo(token: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _token_from(orjson.dumps({"token": token}).decode())
    assert "S3C" not in str(caught.value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"FARM_API_TOKEN": token})
    assert "S3C" not in str(caught.value) and "FARM_API_TOKEN" in str(caught.value)


def test_a_blank_secret_is_refused() -> None:
    with pytest.raises(SettingsError, match="empty"):
        _token_from(orjson.dumps({"token": "\t\n"}).decode())


def test_the_runner_refuses_a_token_it_could_not_send() -> None:
    with pytest.raises(SettingsError) as caught:
        FarmStream("http://farm", chaos=True, seed=1, token="S3C\x7fRET")
    assert "S3C" not in str(caught.value)


def test_a_protocol_error_becomes_a_fixed_message() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("Illegal header value b'Bearer S3CRET\\n'")

    source = HttpSourceOfTruth("http://farm", transport=httpx.MockTransport(broken))
    with pytest.raises(SourceUnavailable) as caught:
        source.fetch_many(["INV-1"], budget_s=1)
    assert "S3CRET" not in str(caught.value) and "protocol" in str(caught.value)
    farm = FarmStream("http://farm", chaos=True, seed=1, transport=httpx.MockTransport(broken))
    with pytest.raises(FarmUnavailable) as farm_caught:
        farm.fetch(0, 10)
    assert "S3CRET" not in str(farm_caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://h:6379/0?password=hunter2", "redis://h:6379/0?password=***"),
        ("rediss://u:hunter2@h:6380/1", "rediss://u:***@h:6380/1"),
        ("redis://h/0?db=1&PassWord=hunter2", "redis://h/0?db=1&PassWord=***"),
        (
            "https://sqs.eu-west-1.amazonaws.com/1/q?X-Amz-Signature=hunter2&X-Amz-Date=1",
            "https://sqs.eu-west-1.amazonaws.com/1/q?X-Amz-Signature=***&X-Amz-Date=1",
        ),
        ("redis://h:6379/0", "redis://h:6379/0"),
    ],
)
def test_urls_are_shown_without_their_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("name", ["REDIS_URL", "FARM_URL"])
def test_an_invalid_url_setting_is_quoted_redacted(name: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: "ftp://u:hunter2@h/0?password=hunter2"})
    assert "hunter2" not in str(caught.value) and name in str(caught.value)


class Tokens:
    """A token source whose secret a test rotates."""

    def __init__(self, token: str) -> None:
        self.stored = token
        self.cached = token
        self.rereads = 0

    def current(self) -> str:
        return self.cached

    def refreshed(self, rejected: str) -> str:
        self.rereads += 1
        self.cached = self.stored
        return self.cached


def test_a_401_rereads_the_token_once_and_retries_with_it() -> None:
    seen: list[str] = []
    accepted = {"Bearer new"}

    def farm(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        if request.headers.get("authorization") not in accepted:
            return httpx.Response(401, json=[{"errorCode": "INVALID_SESSION_ID"}])
        return httpx.Response(200, content=orjson.dumps([pristine("INV-1")]))

    tokens = Tokens("old")
    tokens.stored = "new"
    source = HttpSourceOfTruth(
        "http://farm", token_source=tokens, transport=httpx.MockTransport(farm), max_attempts=1
    )
    assert source.fetch_many(["INV-1"])["INV-1"] == pristine("INV-1")
    assert seen == ["Bearer old", "Bearer new"] and tokens.rereads == 1

    accepted.clear()
    with pytest.raises(SourceUnavailable, match="401 with the token read again"):
        source.fetch_many(["INV-1"])
    assert seen[2:] == ["Bearer new", "Bearer new"] and tokens.rereads == 2


@pytest.mark.parametrize(
    ("name", "url"),
    [("REDIS_URL", "redis://:hunter2@cache:6379/0"), ("FARM_URL", "http://farm.example")],
)
def test_tls_required_refuses_plaintext_urls_redacted(name: str, url: str) -> None:
    with pytest.raises(SettingsError, match="AOS_REQUIRE_TLS") as caught:
        Settings.from_env(
            {
                "AOS_REQUIRE_TLS": "true",
                "REDIS_URL": "rediss://cache:6379/0",
                "FARM_URL": "https://farm.example",
                name: url,
            }
        )
    assert "hunter2" not in str(caught.value) and name in str(caught.value)


def test_tls_required_accepts_rediss_and_https() -> None:
    settings = Settings.from_env(
        {
            "AOS_REQUIRE_TLS": "true",
            "REDIS_URL": "rediss://cache:6379/0",
            "FARM_URL": "https://farm.example",
        }
    )
    assert settings.require_tls and settings.redis_url.startswith("rediss://")
    assert Settings.from_env({"REDIS_URL": "redis://localhost:6379/0"}).require_tls is False
