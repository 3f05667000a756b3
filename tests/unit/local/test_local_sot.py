"""The runner's choice of source of truth for the sidecar's environment."""

from __future__ import annotations

import pytest

from local.cli import build_parser
from local.services import SetupError, source_of_truth_environment

FARM = "http://127.0.0.1:8123"


def test_farm_is_the_default() -> None:
    assert source_of_truth_environment({}, sot=None, farm_url=FARM) == {"AOS_SOT_KIND": "farm"}
    assert build_parser().parse_args([]).sot is None


def test_salesforce_without_a_login_url_logs_in_to_the_run_s_farm() -> None:
    env = source_of_truth_environment({}, sot="salesforce", farm_url=FARM)
    assert env == {
        "AOS_SOT_KIND": "salesforce",
        "SALESFORCE_LOGIN_URL": FARM,
        "SALESFORCE_CLIENT_ID": "aos-farm-dev-client",
        "SALESFORCE_CLIENT_SECRET": "aos-farm-dev-secret",
    }


def test_the_farm_s_own_credentials_are_used_when_set() -> None:
    base = {"FARM_SF_CLIENT_ID": "id", "FARM_SF_CLIENT_SECRET": "secret"}
    env = source_of_truth_environment(base, sot="salesforce", farm_url=FARM)
    assert (env["SALESFORCE_CLIENT_ID"], env["SALESFORCE_CLIENT_SECRET"]) == ("id", "secret")


def test_a_configured_org_is_left_alone() -> None:
    base = {
        "AOS_SOT_KIND": "salesforce",
        "SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com",
        "SALESFORCE_CREDENTIALS_SECRET_ARN": "arn:aws:secretsmanager:x",
    }
    env = source_of_truth_environment(base, sot=None, farm_url=FARM)
    assert env == base


def test_the_flag_wins_over_the_environment() -> None:
    base = {"AOS_SOT_KIND": "salesforce"}
    assert source_of_truth_environment(base, sot="farm", farm_url=FARM)["AOS_SOT_KIND"] == "farm"


def test_an_unknown_kind_from_the_environment_is_a_setup_error() -> None:
    with pytest.raises(SetupError, match="oracle"):
        source_of_truth_environment({"AOS_SOT_KIND": "oracle"}, sot=None, farm_url=FARM)


def test_the_flag_accepts_only_the_two_kinds() -> None:
    assert build_parser().parse_args(["--sot", "salesforce"]).sot == "salesforce"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--sot", "oracle"])
