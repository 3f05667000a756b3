"""Property tests: any delivered bytes end in exactly one place and never crash a batch."""

from __future__ import annotations

import base64
from typing import Any

import fakeredis
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar_fn.settings import Settings
from sidecar_fn.wiring import build_sidecar

from .fakes import CapturedLogger, FakeSource, RecordingMetrics

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
invoice_ids = st.one_of(
    st.integers(1, 2_000_000).map(lambda n: f"INV-{n}"),
    st.text(max_size=16),
    st.sampled_from(["../INV-1", "INV-1%2F", "INV-1\r\n", "INV-\u0661\u0662", "INV-" + "9" * 13]),
)
records = st.fixed_dictionaries(
    {},
    optional={
        "invoice_id": invoice_ids | json_values,
        "vendor_id": st.text(max_size=10) | json_values,
        "status": st.sampled_from(["PAID", "VOID"]) | json_values,
        "total_amount": st.floats(allow_nan=False, allow_infinity=False) | json_values,
        "extra": json_values,
    },
)
payloads = st.one_of(
    st.binary(max_size=200),
    records.map(orjson.dumps),
    json_values.map(orjson.dumps),
)


def run(payload_list: list[bytes], kinesis: bool) -> tuple[Any, fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    sidecar = build_sidecar(
        Settings(source_id="fuzz", stream="f:main", dlq_stream="f:dlq"),
        redis_client=client,
        source=FakeSource(),
        metrics=RecordingMetrics(),
        logger=CapturedLogger().logger,
    )
    if kinesis:
        event = {
            "Records": [
                {"kinesis": {"sequenceNumber": str(n), "data": base64.b64encode(p).decode()}}
                for n, p in enumerate(payload_list)
            ]
        }
    else:
        event = {
            "Records": [
                {"messageId": str(n), "body": p.decode("utf-8", "surrogateescape")}
                for n, p in enumerate(payload_list)
            ]
        }
    return sidecar.handle_batch(event), client


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, min_size=1, max_size=8), st.booleans())
def test_every_item_ends_in_exactly_one_place(payload_list: list[bytes], kinesis: bool) -> None:
    report, client = run(payload_list, kinesis)
    assert report.failures == []
    main = [orjson.loads(f[b"envelope"]) for _, f in client.xrange("f:main")]
    dlq = [f for _, f in client.xrange("f:dlq")]
    placed = [e["meta"]["item_id"] for e in main] + [d[b"item_id"].decode() for d in dlq]
    assert sorted(placed, key=int) == [str(n) for n in range(len(payload_list))]
    for envelope in main:
        payload = envelope["payload"]
        assert isinstance(payload.get("invoice_id"), str)
        assert isinstance(payload.get("vendor_id"), str)
        assert isinstance(payload.get("status"), str)
        assert type(payload.get("total_amount")) in (int, float)
    if kinesis:
        for entry in dlq:
            assert entry[b"raw"] == payload_list[int(entry[b"item_id"])]
