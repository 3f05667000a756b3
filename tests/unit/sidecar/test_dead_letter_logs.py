"""What the sidecar says about records it cannot finish: one line per dead letter, binary
data named as such, and a loud warning when no time was left to ask the source of truth."""

from __future__ import annotations

import base64
import gzip
import zlib
from typing import Any

import fakeredis
import orjson
import pytest

from sidecar_fn.malformed import malformed_error
from sidecar_fn.sidecar import IngestSidecar

from .fakes import CapturedLogger, Context, FakeSource


def kinesis(*payloads: bytes) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {
                    "sequenceNumber": f"4900{n}",
                    "data": base64.b64encode(data).decode(),
                },
                "eventSource": "aws:kinesis",
            }
            for n, data in enumerate(payloads)
        ]
    }


def dlq_errors(client: fakeredis.FakeRedis) -> dict[str, str]:
    return {
        fields[b"item_id"].decode(): fields[b"error"].decode()
        for _, fields in client.xrange("unit:dlq")
    }


DRIFTED = orjson.dumps({"invoice_id": "INV-9", "total_amount": 1, "status": "PAID"})
RECORD = b'{"invoice_id": "INV-1"}'
NO_ID = orjson.dumps({"total_amount": 1, "status": "PAID"})


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (gzip.compress(RECORD), "binary data (gzip-compressed), not UTF-8 text"),
        (zlib.compress(RECORD * 9), "binary data (zlib-compressed), not UTF-8 text"),
        (b"\xff\xfe\x00\x01garbage", "binary data, not UTF-8 text"),
    ],
)  # fmt: skip
def test_binary_data_is_named_for_what_it_is(
    data: bytes, said: str, sidecar: IngestSidecar, fake_redis: fakeredis.FakeRedis
) -> None:
    report = sidecar.handle_batch(kinesis(data), Context(30_000))
    assert report.outcomes == {"49000": "malformed"}
    assert dlq_errors(fake_redis) == {"49000": said}


def test_malformed_wording_for_text_is_unchanged() -> None:
    assert malformed_error(b"[1]", None, [1]) == "not a JSON object: the record is an array"
    assert malformed_error(b"{", ValueError("eof")) == "not valid JSON: eof"
    lone = "\ud800".encode("utf-8", "surrogatepass")
    assert malformed_error(lone, ValueError("x")) == (
        "text with unpaired surrogates, not valid UTF-8"
    )


def test_each_dead_lettered_record_gets_one_info_line_with_its_reason(
    sidecar: IngestSidecar, source: FakeSource, captured: CapturedLogger
) -> None:
    source.overrides["INV-9"] = None
    event = kinesis(b"not json", b"42", NO_ID, DRIFTED, orjson.dumps({"invoice_id": "INV-1"}))
    sidecar.handle_batch(event, Context(30_000))
    lines = [line for line in captured.lines if line["message"] == "Record Dead-Lettered."]
    assert {line["item_id"]: line["reason"] for line in lines} == {
        "49000": "malformed",
        "49001": "malformed",
        "49002": "unrepairable",
        "49003": "unrepairable",
    }
    assert all(line["level"] == "INFO" and line["error"] for line in lines)
    by_id = {line["item_id"]: line["error"] for line in lines}
    assert by_id["49002"] == "drifted record has no invoice_id"

    captured.stream.truncate(0)
    captured.stream.seek(0)
    sidecar.handle_batch(event, Context(30_000))
    assert "Record Dead-Lettered." not in captured.messages()


def test_runner_dead_letters_are_logged_one_line_each(
    sidecar: IngestSidecar, captured: CapturedLogger
) -> None:
    sidecar.dead_letter([("a", b"x"), ("b", b"y")], "retries_exhausted", "last error: 503")
    lines = [line for line in captured.lines if line["message"] == "Record Dead-Lettered."]
    assert [(line["item_id"], line["reason"]) for line in lines] == [
        ("a", "retries_exhausted"),
        ("b", "retries_exhausted"),
    ]
    assert lines[0]["error"] == "last error: 503"


def test_no_time_left_is_one_loud_warning_per_batch(
    sidecar: IngestSidecar, source: FakeSource, captured: CapturedLogger
) -> None:
    drifted = [
        orjson.dumps({"invoice_id": f"INV-{n}", "total_amount": 1, "status": "PAID"})
        for n in range(1, 6)
    ]
    report = sidecar.handle_batch(kinesis(*drifted), Context(500))
    assert len(report.failures) == 5 and source.calls == []
    warnings = [line for line in captured.lines if line["level"] == "WARNING"]
    assert len(warnings) == 1
    assert warnings[0]["message"].startswith("NO TIME LEFT to ask the source of truth")
    assert warnings[0]["records"] == 5

    captured.stream.truncate(0)
    captured.stream.seek(0)
    sidecar.handle_batch(kinesis(*drifted), Context(30_000))
    assert not any("NO TIME LEFT" in m for m in captured.messages())
