"""The farm token read from AWS Secrets Manager (moto), cached per cold start."""

from __future__ import annotations

import json

import boto3
import pytest

from local.farm_server import start_farm
from sidecar_fn import handler as handler_module
from sidecar_fn import secrets
from sidecar_fn.errors import SettingsError
from sidecar_fn.settings import Settings
from sidecar_fn.wiring import farm_token
from tests.conftest import KeySpace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("secretsmanager")]


def create(value: str) -> str:
    client = boto3.client("secretsmanager")
    return str(client.create_secret(Name="aos/farm-token", SecretString=value)["ARN"])


def test_plain_secret_is_read_once_and_cached() -> None:
    arn = create("plain-token-1")
    settings = Settings(farm_api_token_secret_arn=arn)
    assert farm_token(settings) == "plain-token-1"
    boto3.client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert farm_token(settings) == "plain-token-1"
    secrets.clear_cache()
    with pytest.raises(SettingsError, match="cannot read"):
        farm_token(settings)


def test_json_secret_with_token_key() -> None:
    arn = create(json.dumps({"token": "json-token-2", "note": "x"}))
    assert farm_token(Settings(farm_api_token_secret_arn=arn)) == "json-token-2"


def test_direct_token_wins_without_calling_aws() -> None:
    settings = Settings(farm_api_token="direct", farm_api_token_secret_arn="arn:missing")
    assert farm_token(settings) == "direct"


def test_json_secret_without_a_token_key_is_refused() -> None:
    arn = create(json.dumps({"password": "x"}))
    with pytest.raises(SettingsError, match="none of the keys"):
        farm_token(Settings(farm_api_token_secret_arn=arn))


def test_error_does_not_echo_the_secret() -> None:
    arn = create(json.dumps({"password": "do-not-print"}))
    with pytest.raises(SettingsError) as raised:
        farm_token(Settings(farm_api_token_secret_arn=arn))
    assert "do-not-print" not in str(raised.value)


def test_handler_repairs_through_a_protected_farm_with_the_secret_token(
    keyspace: KeySpace, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = create(json.dumps({"token": "vault-token-3"}))
    env = {
        **keyspace.env(),
        "REDIS_URL": redis_url,
        "FARM_API_TOKEN_SECRET_ARN": arn,
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    drifted = {"invoice_id": "INV-77", "total_amount": 3, "status": "PAID"}
    event = {"Records": [{"messageId": "s-1", "body": json.dumps(drifted)}]}
    with start_farm(env={"FARM_API_TOKEN": "vault-token-3"}) as farm:
        monkeypatch.setenv("FARM_URL", farm.url)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        handler_module.current_sidecar.cache_clear()
        try:
            assert handler_module.handler(event, None) == {"batchItemFailures": []}
            report = handler_module.current_sidecar().handle_batch(event)
        finally:
            handler_module.current_sidecar.cache_clear()
    assert report.outcomes == {"s-1": "repaired"}
