"""Farm configuration from the environment, its validation, and the Chalice stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chalicelib.config import FarmConfig

FARM_DIR = Path(__file__).resolve().parents[3] / "farm_api"


def test_defaults() -> None:
    config = FarmConfig.from_env({})
    assert config == FarmConfig()
    assert (config.drift_rate, config.malformed_rate, config.unrepairable_share) == (
        0.15,
        0.05,
        0.05,
    )
    assert config.catalogue_size == 1_000_000
    assert config.api_token is None
    assert (config.sot_failure_rate, config.sot_latency_ms) == (0.0, 0)


def test_environment_overrides() -> None:
    config = FarmConfig.from_env(
        {
            "FARM_DRIFT_RATE": "0.3",
            "FARM_MALFORMED_RATE": "0.1",
            "FARM_UNREPAIRABLE_SHARE": "0.5",
            "FARM_CATALOGUE_SIZE": "5000",
            "FARM_API_TOKEN": "s3cret",
            "FARM_SOT_FAILURE_RATE": "0.25",
            "FARM_SOT_LATENCY_MS": "120",
            "FARM_RENAMED_SHARE": "0.4",
            "FARM_STRING_NUMBER_SHARE": "0.6",
            "FARM_CASE_SHARE": "0.2",
            "FARM_EMPTY_SHARE": "0",
        }
    )
    assert config == FarmConfig(0.3, 0.1, 0.5, 5000, "s3cret", 0.25, 120, 0.4, 0.6, 0.2, 0.0)


def test_empty_token_means_no_token() -> None:
    assert FarmConfig.from_env({"FARM_API_TOKEN": ""}).api_token is None


def test_repr_does_not_show_the_token() -> None:
    assert "s3cret" not in repr(FarmConfig(api_token="s3cret"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FARM_DRIFT_RATE", "abc"),
        ("FARM_DRIFT_RATE", "1.5"),
        ("FARM_MALFORMED_RATE", "nan"),
        ("FARM_SOT_FAILURE_RATE", "-0.5"),
        ("FARM_CATALOGUE_SIZE", "0"),
        ("FARM_CATALOGUE_SIZE", "1e6"),
        ("FARM_SOT_LATENCY_MS", "-5"),
        ("FARM_SOT_LATENCY_MS", "999999"),
        ("FARM_RENAMED_SHARE", "2"),
        ("FARM_EMPTY_SHARE", "x"),
    ],
)
def test_invalid_values_raise_a_clear_error(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        FarmConfig.from_env({name: value})


def test_rates_past_one_are_rejected() -> None:
    with pytest.raises(ValueError, match="must not exceed 1"):
        FarmConfig.from_env({"FARM_DRIFT_RATE": "0.7", "FARM_MALFORMED_RATE": "0.6"})


PROD_CLIENT = {"FARM_SF_CLIENT_ID": "prod-client", "FARM_SF_CLIENT_SECRET": "prod-secret"}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stages_carry_valid_rates_and_no_token(stage: str) -> None:
    chalice_config = json.loads((FARM_DIR / ".chalice" / "config.json").read_text())
    env = chalice_config["stages"][stage]["environment_variables"]
    assert "FARM_API_TOKEN" not in env
    closed = {**env, "FARM_API_TOKEN": "t", **PROD_CLIENT}
    assert FarmConfig.from_env(closed) == FarmConfig(
        api_token="t", sf_client_id="prod-client", sf_client_secret="prod-secret"
    )


def test_drift_kind_shares_past_one_for_a_field_are_rejected() -> None:
    with pytest.raises(ValueError, match="must not exceed 1"):
        FarmConfig.from_env({"FARM_RENAMED_SHARE": "0.5", "FARM_CASE_SHARE": "0.5"})


def test_prod_stage_refuses_to_start_without_a_token() -> None:
    with pytest.raises(ValueError, match="FARM_API_TOKEN must be set in stage 'prod'"):
        FarmConfig.from_env({"FARM_STAGE": "prod"})
    with pytest.raises(ValueError, match="FARM_API_TOKEN"):
        FarmConfig.from_env({"FARM_STAGE": "prod", "FARM_API_TOKEN": "  "})
    closed = {"FARM_STAGE": "prod", "FARM_API_TOKEN": "t", **PROD_CLIENT}
    assert FarmConfig.from_env(closed).api_token == "t"


@pytest.mark.parametrize("name", ["FARM_SF_CLIENT_ID", "FARM_SF_CLIENT_SECRET"])
@pytest.mark.parametrize("value", [None, " ", "default"])
def test_prod_stage_refuses_unset_or_development_client_credentials(
    name: str, value: str | None
) -> None:
    environ = {"FARM_STAGE": "prod", "FARM_API_TOKEN": "t", **PROD_CLIENT}
    if value is None:
        del environ[name]
    else:
        dev = FarmConfig.from_env({})
        defaults = {"FARM_SF_CLIENT_ID": dev.sf_client_id, "FARM_SF_CLIENT_SECRET": "x"}
        environ[name] = defaults[name] if value == "default" else value
        if value == "default" and name == "FARM_SF_CLIENT_SECRET":
            environ[name] = dev.sf_client_secret
    with pytest.raises(ValueError, match=f"{name} must be set") as caught:
        FarmConfig.from_env(environ)
    assert "prod-secret" not in str(caught.value)


def test_dev_stage_and_no_stage_run_open() -> None:
    assert FarmConfig.from_env({"FARM_STAGE": "dev"}).api_token is None
    assert FarmConfig.from_env({}).api_token is None


def test_each_chalice_stage_names_itself() -> None:
    config = json.loads((FARM_DIR / ".chalice" / "config.json").read_text())
    for name, stage in config["stages"].items():
        assert stage["environment_variables"]["FARM_STAGE"] == name
    prod = config["stages"]["prod"]["environment_variables"]
    with pytest.raises(ValueError, match="FARM_API_TOKEN"):
        FarmConfig.from_env(prod)
