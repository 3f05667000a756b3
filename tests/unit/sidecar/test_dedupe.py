"""AOS_DEDUPE_KEY: one entry per record version, whatever the delivery ids."""

from __future__ import annotations

from typing import Any

import fakeredis
import orjson
import pytest

from sidecar_fn.dedupe import VERSION_PREFIX, parse_dedupe_fields, version_id
from sidecar_fn.errors import SettingsError
from sidecar_fn.settings import Settings
from sidecar_fn.sidecar import IngestSidecar

from .conftest import SidecarWith
from .fakes import FakeSource, pristine

FIELDS = ("invoice_id", "last_modified")


def sqs(*records: tuple[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message_id,
                "body": body if isinstance(body, str) else orjson.dumps(body).decode(),
                "eventSource": "aws:sqs",
            }
            for message_id, body in records
        ]
    }


@pytest.fixture
def deduping(sidecar_with: SidecarWith) -> IngestSidecar:
    return sidecar_with(
        Settings(source_id="unit-src", stream="unit:main", dlq_stream="unit:dlq", dedupe_key=FIELDS)
    )


def test_fields_parse_from_a_comma_separated_list() -> None:
    assert parse_dedupe_fields(" invoice_id , last_modified") == FIELDS
    for bad in ("", "a,,b", "a,a"):
        with pytest.raises(ValueError):
            parse_dedupe_fields(bad)


def test_a_bad_dedupe_key_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="AOS_DEDUPE_KEY"):
        Settings.from_env({"AOS_DEDUPE_KEY": "invoice_id,,x"})
    assert Settings.from_env({"AOS_DEDUPE_KEY": "invoice_id"}).dedupe_key == ("invoice_id",)
    assert Settings.from_env({}).dedupe_key == ()


def test_version_id_depends_on_the_values_their_types_and_the_field_names() -> None:
    record = pristine("INV-7")
    key = version_id(record, FIELDS)
    assert key is not None and key.startswith(VERSION_PREFIX)
    assert version_id(dict(record), FIELDS) == key
    assert version_id({**record, "status": "VOID"}, FIELDS) == key
    assert version_id({**record, "last_modified": "2026-01-01T00:00:00Z"}, FIELDS) != key
    assert version_id({"a": 1, "b": 2}, ("a", "b")) != version_id({"a": "1", "b": 2}, ("a", "b"))
    assert version_id({"a": 1}, ("a",)) != version_id({"b": 1}, ("b",))


@pytest.mark.parametrize("value", [None, {"x": 1}, [1]])
def test_a_missing_or_non_scalar_field_has_no_version(value: Any) -> None:
    assert version_id({"invoice_id": "INV-1", "last_modified": value}, FIELDS) is None
    assert version_id({"invoice_id": "INV-1"}, FIELDS) is None


def test_same_version_under_another_message_id_is_a_duplicate(
    deduping: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    record = pristine("INV-3")
    first = deduping.handle_batch(sqs(("m1", record)))
    again = deduping.handle_batch(sqs(("m2", record), ("m3", {**record, "status": "VOID"})))

    assert first.counts["clean"] == 1 and first.duplicates == 0
    assert again.duplicates == 2 and again.failures == []
    assert again.outcomes == {"m2": "clean", "m3": "clean"}
    assert fake_redis.xlen("unit:main") == 1


def test_a_new_version_and_records_without_the_fields_are_written(
    deduping: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    record = pristine("INV-3")
    newer = {**record, "last_modified": "2026-01-01T00:00:00Z"}
    no_version = {key: value for key, value in record.items() if key != "last_modified"}
    report = deduping.handle_batch(
        sqs(("m1", record), ("m2", newer), ("m3", no_version), ("m4", no_version), ("m5", "[1]"))
    )

    assert report.duplicates == 0
    assert fake_redis.xlen("unit:main") + fake_redis.xlen("unit:dlq") == 5
    assert fake_redis.exists("aos:seen:unit-src:m3") and fake_redis.exists("aos:seen:unit-src:m5")
    assert not fake_redis.exists("aos:seen:unit-src:m1")


def test_a_deferred_record_probes_its_version(
    deduping: IngestSidecar, source: FakeSource, fake_redis: fakeredis.FakeRedis
) -> None:
    drifted = pristine("INV-4")
    del drifted["total_amount"]
    assert deduping.handle_batch(sqs(("m1", drifted))).outcomes == {"m1": "repaired"}
    source.unanswered.add("INV-4")

    report = deduping.handle_batch(sqs(("m2", drifted)))

    assert report.failures == [] and report.outcomes == {"m2": "repaired"}
    assert report.duplicates == 1
    assert fake_redis.xlen("unit:main") == 1


def test_without_a_dedupe_key_two_message_ids_are_two_entries(
    sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    record = pristine("INV-3")
    sidecar.handle_batch(sqs(("m1", record), ("m2", record)))
    assert fake_redis.xlen("unit:main") == 2


def test_dead_lettering_uses_the_version_too(
    deduping: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    raw = orjson.dumps(pristine("INV-5"))
    deduping.dead_letter([("m1", raw)], "retries_exhausted", "gave up")
    deduping.dead_letter([("m2", raw)], "retries_exhausted", "gave up")
    assert fake_redis.xlen("unit:dlq") == 1
