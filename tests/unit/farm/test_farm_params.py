"""Query parameters parse strictly: defaults, bounds and a 400 for anything else."""

from __future__ import annotations

import pytest
from chalicelib.config import FarmConfig
from chalicelib.errors import FarmError
from chalicelib.field_drift import KindShares
from chalicelib.params import (
    MAX_BATCH_IDS,
    MAX_CURSOR,
    QueryParams,
    parse_batch_ids,
    parse_stream_query,
)

CONFIG = FarmConfig(drift_rate=0.2, malformed_rate=0.1, unrepairable_share=0.05)


def query(**params: str | list[str]) -> QueryParams:
    return {name: value if isinstance(value, list) else [value] for name, value in params.items()}


def test_stream_defaults_come_from_the_spec_and_the_config() -> None:
    parsed = parse_stream_query({}, CONFIG)
    assert (parsed.chaos, parsed.cursor, parsed.limit, parsed.seed) == (False, 0, 100, 0)
    assert (parsed.rates.drift_rate, parsed.rates.malformed_rate) == (0.2, 0.1)
    assert parsed.rates.unrepairable_share == 0.05


def test_stream_parameters_are_read() -> None:
    parsed = parse_stream_query(
        query(
            chaos="TRUE", cursor="2000", limit="1000", seed="42", drift_rate="0.5",
            malformed_rate=".25",
        ),
        CONFIG,
    )  # fmt: skip
    assert (parsed.chaos, parsed.cursor, parsed.limit, parsed.seed) == (True, 2000, 1000, 42)
    assert (parsed.rates.drift_rate, parsed.rates.malformed_rate) == (0.5, 0.25)
    assert parse_stream_query(query(chaos="0", drift_rate="1", malformed_rate="0"), CONFIG)
    tiny = parse_stream_query(query(drift_rate="1e-05", malformed_rate="2.5E-1"), CONFIG)
    assert (tiny.rates.drift_rate, tiny.rates.malformed_rate) == (1e-05, 0.25)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "0"),
        ("limit", "1001"),
        ("limit", "-1"),
        ("limit", "ten"),
        ("limit", ""),
        ("limit", "1e3"),
        ("limit", "+5"),
        ("limit", " 5"),
        ("limit", "5.0"),
        ("limit", "1_0"),
        ("limit", "\u0665"),
        ("cursor", "-1"),
        ("cursor", str(MAX_CURSOR + 1)),
        ("cursor", "9" * 400),
        ("seed", "-3"),
        ("seed", str(2**63)),
        ("chaos", "yes"),
        ("chaos", ""),
        ("drift_rate", "1.5"),
        ("drift_rate", "-0.1"),
        ("drift_rate", "nan"),
        ("drift_rate", "inf"),
        ("malformed_rate", "1e1"),
        ("malformed_rate", "1_0"),
        ("malformed_rate", " 0.1"),
        ("malformed_rate", "0.5.5"),
        ("limt", "5"),
    ],
)
def test_bad_stream_parameters_answer_400_naming_the_parameter(name: str, value: str) -> None:
    with pytest.raises(FarmError) as caught:
        parse_stream_query(query(**{name: value}), CONFIG)
    assert (caught.value.status, caught.value.error_code) == (400, "INVALID_QUERY_PARAMETER")
    assert name in caught.value.message


def test_repeated_parameter_is_rejected() -> None:
    with pytest.raises(FarmError, match="at most once"):
        parse_stream_query(query(limit=["1", "2"]), CONFIG)


def test_rates_summing_past_one_are_rejected() -> None:
    with pytest.raises(FarmError, match="must not exceed 1"):
        parse_stream_query(query(drift_rate="0.6", malformed_rate="0.5"), CONFIG)


def test_batch_ids_are_split_in_order_with_duplicates() -> None:
    assert parse_batch_ids(query(ids="INV-2,INV-1,INV-2")) == ["INV-2", "INV-1", "INV-2"]


def test_batch_accepts_exactly_the_limit() -> None:
    ids = ",".join(f"INV-{n}" for n in range(MAX_BATCH_IDS))
    assert len(parse_batch_ids(query(ids=ids))) == MAX_BATCH_IDS


@pytest.mark.parametrize("count", [MAX_BATCH_IDS + 1, 10_000])
def test_batch_past_the_limit_is_limit_exceeded(count: int) -> None:
    ids = ",".join(f"INV-{n}" for n in range(count))
    with pytest.raises(FarmError) as caught:
        parse_batch_ids(query(ids=ids))
    assert (caught.value.status, caught.value.error_code) == (400, "LIMIT_EXCEEDED")


@pytest.mark.parametrize(
    "ids", ["", "INV-1,", ",INV-1", "INV-1,,INV-2", "INV-1,../x", "INV-1, INV-2", "INV-1;INV-2"]
)
def test_batch_with_a_malformed_id_is_malformed_id(ids: str) -> None:
    with pytest.raises(FarmError) as caught:
        parse_batch_ids(query(ids=ids))
    assert (caught.value.status, caught.value.error_code) == (400, "MALFORMED_ID")


@pytest.mark.parametrize("params", [{}, query(id="INV-1"), query(ids=["INV-1", "INV-2"])])
def test_batch_without_a_single_ids_parameter_is_rejected(params: QueryParams) -> None:
    with pytest.raises(FarmError) as caught:
        parse_batch_ids(params)
    assert caught.value.error_code == "INVALID_QUERY_PARAMETER"


def test_kind_shares_default_to_the_config_and_are_overridden() -> None:
    config = FarmConfig(renamed_share=0.2, string_number_share=0.1, case_share=0.3, empty_share=0.4)
    assert parse_stream_query({}, config).rates.kinds == config.kind_shares
    parsed = parse_stream_query(
        query(renamed_share="0.5", string_number_share="0", case_share=".25", empty_share=".1"),
        config,
    )
    assert parsed.rates.kinds == KindShares(0.5, 0.0, 0.25, 0.1)


@pytest.mark.parametrize(
    "name", ["renamed_share", "string_number_share", "case_share", "empty_share"]
)
def test_bad_kind_shares_answer_400(name: str) -> None:
    for value in ("1.5", "-1", "x"):
        with pytest.raises(FarmError) as caught:
            parse_stream_query(query(**{name: value}), CONFIG)
        assert caught.value.error_code == "INVALID_QUERY_PARAMETER"
        assert name in caught.value.message


def test_kind_shares_past_one_for_a_field_answer_400() -> None:
    with pytest.raises(FarmError, match="must not exceed 1"):
        parse_stream_query(query(renamed_share="0.6", string_number_share="0.5"), CONFIG)
