"""A rotated farm token in Secrets Manager (moto) reaches a warm sidecar without a cold start."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sidecar_fn.settings import Settings
from sidecar_fn.wiring import build_source

from .evil_sot import EvilSourceOfTruth, pristine_invoice

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


def bearer(evil_sot: EvilSourceOfTruth) -> list[str]:
    return [seen.headers.get("authorization", "") for seen in evil_sot.requests]


def test_a_401_after_rotation_rereads_the_secret_once(
    secretsmanager: Any, evil_sot: EvilSourceOfTruth
) -> None:
    arn = secretsmanager.create_secret(Name="aos/farm", SecretString='{"token": "tok-1"}')["ARN"]
    evil_sot.token = "tok-1"
    settings = Settings(farm_url=evil_sot.url, farm_api_token_secret_arn=arn)
    source = build_source(settings)
    assert source.fetch_many(["INV-1"])["INV-1"] == pristine_invoice("INV-1")

    secretsmanager.put_secret_value(SecretId=arn, SecretString='{"token": "tok-2"}')
    evil_sot.token = "tok-2"
    evil_sot.clear()
    assert source.fetch_many(["INV-2"])["INV-2"] == pristine_invoice("INV-2")
    assert bearer(evil_sot) == ["Bearer tok-1", "Bearer tok-2"]
    evil_sot.clear()
    assert source.fetch_many(["INV-3"])["INV-3"] == pristine_invoice("INV-3")
    assert bearer(evil_sot) == ["Bearer tok-2"]
    source.close()


def test_the_secret_is_read_again_after_its_maximum_age(
    secretsmanager: Any, evil_sot: EvilSourceOfTruth
) -> None:
    arn = secretsmanager.create_secret(Name="aos/farm", SecretString="tok-1")["ARN"]
    settings = Settings.from_env(
        {
            "FARM_URL": evil_sot.url,
            "FARM_API_TOKEN_SECRET_ARN": arn,
            "AOS_TOKEN_MAX_AGE_SECONDS": "1",
        }
    )
    source = build_source(settings)
    source.fetch_many(["INV-1"])
    secretsmanager.put_secret_value(SecretId=arn, SecretString="tok-2")
    time.sleep(1.1)
    source.fetch_many(["INV-2"])
    assert bearer(evil_sot) == ["Bearer tok-1", "Bearer tok-2"]
    source.close()
