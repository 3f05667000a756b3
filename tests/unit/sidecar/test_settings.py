"""Settings.from_env: defaults, overrides, validation, secrecy."""

from __future__ import annotations

import pytest

from sidecar_fn.errors import SettingsError
from sidecar_fn.settings import Settings


def test_defaults_follow_the_spec_table() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.farm_url == "http://127.0.0.1:8000"
    assert settings.farm_api_token is None
    assert settings.stream == "aos:invoices"
    assert settings.dlq_stream == "aos:invoices:dlq"
    assert settings.source_id == "mulesoft-invoices"
    assert settings.schema_path is None
    assert settings.seen_ttl_s == 7 * 24 * 3600
    assert settings.stream_maxlen is None


def test_environment_overrides() -> None:
    settings = Settings.from_env(
        {
            "REDIS_URL": "rediss://cache.example:6380/1",
            "FARM_URL": "https://farm.example/",
            "FARM_API_TOKEN": "s3cret",
            "AOS_STREAM": "s",
            "AOS_DLQ_STREAM": "d",
            "AOS_SOURCE_ID": "src",
            "AOS_SCHEMA": "/tmp/schema.json",
            "AOS_STREAM_MAXLEN": "1000",
            "AOS_SOT_KEEPALIVE": "true",
            "AOS_SOT_TIMEOUT_SECONDS": "0.5",
        }
    )
    assert settings.redis_url == "rediss://cache.example:6380/1"
    assert settings.farm_url == "https://farm.example"
    assert settings.farm_api_token == "s3cret"
    assert (settings.stream, settings.dlq_stream, settings.source_id) == ("s", "d", "src")
    assert settings.schema_path == "/tmp/schema.json"
    assert settings.stream_maxlen == 1000
    assert settings.sot_keepalive is True
    assert settings.sot_timeout_s == 0.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_URL", "http://localhost"),
        ("FARM_URL", "ftp://farm"),
        ("AOS_STREAM_MAXLEN", "-1"),
        ("AOS_SEEN_TTL_SECONDS", "soon"),
        ("AOS_SOT_KEEPALIVE", "maybe"),
        ("AOS_SOT_CHUNK_SIZE", "201"),
        ("AOS_SOT_TIMEOUT_SECONDS", "0"),
        ("AOS_WRITE_PART_RECORDS", "-1"),
        ("AOS_WRITE_PART_RECORDS", "many"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_token_is_not_in_repr() -> None:
    settings = Settings.from_env({"FARM_API_TOKEN": "tok-123456"})
    assert "tok-123456" not in repr(settings)


FLOAT_SETTINGS = (
    "AOS_REDIS_TIMEOUT_SECONDS",
    "AOS_SOT_TIMEOUT_SECONDS",
    "AOS_SOT_BACKOFF_SECONDS",
    "AOS_SOT_BUDGET_SECONDS",
    "AOS_DEADLINE_RESERVE_SECONDS",
    "AOS_SOT_BREAKER_RESET_SECONDS",
)


@pytest.mark.parametrize("name", FLOAT_SETTINGS)
@pytest.mark.parametrize("raw", ["inf", "Infinity", "-inf", "nan", "NaN", "1e400"])
def test_non_finite_numbers_are_refused(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: raw})


@pytest.mark.parametrize("name", FLOAT_SETTINGS)
def test_finite_numbers_are_still_accepted(name: str) -> None:
    settings = Settings.from_env({name: "1.5"})
    assert 1.5 in vars(settings).values()


def test_write_parts_default_to_100_records_and_zero_turns_them_off() -> None:
    assert Settings.from_env({}).write_part_records == 100
    assert Settings.from_env({"AOS_WRITE_PART_RECORDS": "0"}).write_part_records == 0
    assert Settings.from_env({"AOS_WRITE_PART_RECORDS": "250"}).write_part_records == 250
