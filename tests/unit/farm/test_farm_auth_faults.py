"""Bearer-token check and source-of-truth fault injection."""

from __future__ import annotations

import pytest
from chalicelib.auth import is_authorized
from chalicelib.errors import FarmError
from chalicelib.faults import FaultInjector


@pytest.mark.parametrize("header", [None, "Bearer s3cret", "Basic s3cret"])
def test_everything_passes_without_a_token(header: str | None) -> None:
    assert is_authorized(header, None)


@pytest.mark.parametrize("header", ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret"])
def test_the_right_bearer_token_passes(header: str) -> None:
    assert is_authorized(header, "s3cret")


@pytest.mark.parametrize(
    "header",
    [None, "", "s3cret", "Bearer", "Bearer ", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret",
     "Bearer S3CRET", "Bearer s3crét", "Bearer \udcff"],
)  # fmt: skip
def test_anything_else_fails(header: str | None) -> None:
    assert not is_authorized(header, "s3cret")


class FakeClock:
    """Records sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_latency_is_applied_to_every_request() -> None:
    clock = FakeClock()
    faults = FaultInjector(0.0, 250, sleep=clock.sleep)
    faults.apply()
    faults.apply()
    assert clock.slept == [0.25, 0.25]


def test_failure_rate_fails_the_share_whose_roll_is_below_it() -> None:
    rolls = iter([0.1, 0.5, 0.29, 0.3])
    faults = FaultInjector(0.3, 0, roll=lambda: next(rolls))
    outcomes = []
    for _ in range(4):
        try:
            faults.apply()
            outcomes.append("ok")
        except FarmError as error:
            outcomes.append(f"{error.status} {error.error_code}")
    assert outcomes == ["503 SERVER_UNAVAILABLE", "ok", "503 SERVER_UNAVAILABLE", "ok"]


def test_no_faults_by_default() -> None:
    clock = FakeClock()
    FaultInjector(0.0, 0, roll=lambda: 0.0, sleep=clock.sleep).apply()
    assert clock.slept == []
