"""Hostile input through the batch path: a clear dead-letter reason, no crash, no stray request."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .batches import Item, LambdaContext, drifted, dumps
from .conftest import FAST_RECOVERY, SidecarFactory, require, sidecar_env
from .delivery import deliver
from .evil_sot import EvilSourceOfTruth, RecordingServer, pristine_invoice
from .ledger import Ledger, ReadStreams, check_ledger, expected_outcome, read_ledger

pytestmark = pytest.mark.reliability

HOSTILE_IDS = [
    "../../etc/passwd",
    "INV-1/../../admin",
    "INV-1%2F..%2Fadmin",
    "%2e%2e%2f%2e%2e%2f",
    "INV-1\r\nX-Injected: yes",
    "INV-1\n",
    "\nINV-1",
    "INV-1\x00",
    "INV-" + "9" * 5000,
    "INV-0000000000001",
    "INV-\u0661\u0662\u0663",
    "\u0661\u0662\u0663",
    "INV-\uff11\uff12\uff13",
    "INV-\U0001d7d9\U0001d7da\U0001d7db",
    "INV-\u00b9\u00b2",
    "INV-1,INV-2",
    "INV-1&ids=INV-3",
    "INV-1?ids=INV-2",
    "INV-1#x",
    "INV-1;INV-2",
    " INV-1",
    "INV-1 ",
    "inv-1",
    "INV-",
    "INV--1",
    "INV-+1",
    "",
    "http://127.0.0.2/evil",
    "//127.0.0.2/evil",
]
DLQ_REASONS = {"malformed", "unrepairable"}
SCHEMA_FIELDS = ("invoice_id", "total_amount", "vendor_id", "status")

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
invoice_ids = (
    st.sampled_from(HOSTILE_IDS)
    | st.integers(1, 2_000_000).map(lambda n: f"INV-{n}")
    | st.text(max_size=30)
    | json_values
)


@st.composite
def invoice_like(draw: st.DrawFn) -> bytes:
    """A known invoice with some fields removed, nulled or replaced by arbitrary JSON."""
    record: dict[str, Any] = dict(pristine_invoice(f"INV-{draw(st.integers(1, 999_999))}") or {})
    for name in [*SCHEMA_FIELDS, "billing_address"]:
        action = draw(st.sampled_from(["keep", "keep", "drop", "null", "replace"]))
        if action == "drop":
            del record[name]
        elif action == "null":
            record[name] = None
        elif action == "replace":
            record[name] = draw(invoice_ids if name == "invoice_id" else json_values)
    extra = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3))
    return dumps({**extra, **record})


non_objects = json_values.filter(lambda v: not isinstance(v, dict)).map(dumps)
invalid_utf8 = st.binary(min_size=1, max_size=64).filter(lambda b: _invalid_utf8(b))
deep = st.integers(1025, 20_000).flatmap(
    lambda n: st.sampled_from(
        [
            b"[" * n + b"]" * n,
            b'{"a":' * n + b"1" + b"}" * n,
            b'{"invoice_id":"INV-1","vendor_id":null,"x":' + b"[" * n + b"]" * n + b"}",
        ]
    )
)
structured = invoice_like() | non_objects
anything = structured | st.binary(max_size=200) | invalid_utf8 | deep


def _invalid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


_ids = itertools.count()


def _with_ids(raws: list[bytes]) -> list[Item]:
    return [(f"fuzz-{next(_ids):08d}", raw) for raw in raws]


class FuzzRig:
    """One sidecar on a private in-memory Redis, reset between examples."""

    def __init__(self, sidecar: Any, client: Any, sot: EvilSourceOfTruth, keys: dict[str, str]):
        self.sidecar, self.client, self.sot, self.keys = sidecar, client, sot, keys

    def run(self, items: list[Item], *, kinesis: bool) -> Ledger:
        """Deliver one batch; check nothing crashed, nothing failed, no stray request."""
        self.client.delete(self.keys["AOS_STREAM"], self.keys["AOS_DLQ_STREAM"])
        self.sot.clear()
        self.sidecar.healer.local_repair_off.clear()
        result = deliver(self.sidecar, items, kinesis=kinesis)
        assert result.failed == [], "a healthy source and Redis yet items failed back"
        assert self.sot.unintended() == [], self.sot.unintended()
        ledger = read_ledger(self.client, self.keys["AOS_STREAM"], self.keys["AOS_DLQ_STREAM"])
        assert set(ledger.dlq_reasons()) <= DLQ_REASONS
        return ledger


@pytest.fixture
def rig(
    evil_sot: EvilSourceOfTruth,
    bystander: RecordingServer,
    make_sidecar: SidecarFactory,
    unique_keys: dict[str, str],
) -> Iterator[FuzzRig]:
    """A sidecar on fakeredis (Lua included) talking to the honest mode of the evil source."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    env = {**unique_keys, **FAST_RECOVERY, "FARM_URL": evil_sot.url}
    yield FuzzRig(make_sidecar(env, redis_client=client), client, evil_sot, unique_keys)
    assert bystander.requests == []


@pytest.fixture
def real_rig(
    evil_sot: EvilSourceOfTruth,
    bystander: RecordingServer,
    make_sidecar: SidecarFactory,
    keyspace: Any,
    redis_url: str,
    redis_client: redis.Redis,
) -> Iterator[FuzzRig]:
    """The same rig on the real Redis server (its own Lua, not the emulation)."""
    env = sidecar_env(keyspace.env(), redis_url, evil_sot.url)
    yield FuzzRig(make_sidecar(env), redis_client, evil_sot, keyspace.env())
    assert bystander.requests == []


FUZZ = settings(
    max_examples=int(os.environ.get("AOS_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(raws=st.lists(structured, min_size=1, max_size=12), kinesis=st.booleans())
def test_structured_records_end_where_the_contract_says(
    rig: FuzzRig, raws: list[bytes], kinesis: bool
) -> None:
    items = _with_ids(raws)
    ledger = rig.run(items, kinesis=kinesis)
    assert check_ledger(ledger, dict(items)) == []


@FUZZ
@given(raws=st.lists(anything, min_size=1, max_size=8))
def test_arbitrary_bytes_never_crash_and_land_once(rig: FuzzRig, raws: list[bytes]) -> None:
    items = _with_ids(raws)
    ledger = rig.run(items, kinesis=True)
    assert check_ledger(ledger, dict(items), exact_outcomes=False) == []
    for item_id, raw in items:
        if _invalid_utf8(raw):
            assert ledger.outcome(item_id) == "malformed", item_id


@pytest.mark.integration
@settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 3))
@given(raws=st.lists(anything | structured, min_size=1, max_size=10), kinesis=st.booleans())
def test_fuzzed_batches_on_real_redis(real_rig: FuzzRig, raws: list[bytes], kinesis: bool) -> None:
    items = _with_ids(raws)
    sqs_safe = not any(_invalid_utf8(raw) for raw in raws)
    ledger = real_rig.run(items, kinesis=kinesis or not sqs_safe)
    assert check_ledger(ledger, dict(items), exact_outcomes=False) == []


@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=[repr(h)[:24] for h in HOSTILE_IDS])
def test_hostile_invoice_id_on_a_drifted_record_is_unrepairable_without_a_request(
    rig: FuzzRig, hostile: str
) -> None:
    record = json.loads(drifted(5))
    record["invoice_id"] = hostile
    items = _with_ids([dumps(record)])
    ledger = rig.run(items, kinesis=False)
    assert check_ledger(ledger, dict(items)) == []
    assert ledger.outcome(items[0][0]) == "unrepairable"
    assert rig.sot.requests == []
    error = ledger.dlq[items[0][0]][0][b"error"]
    assert error and b"\n" not in error.strip()


@pytest.mark.parametrize("hostile", HOSTILE_IDS[:8], ids=[repr(h)[:24] for h in HOSTILE_IDS[:8]])
def test_hostile_invoice_id_on_a_complete_record_makes_no_request(
    rig: FuzzRig, hostile: str
) -> None:
    record = dict(pristine_invoice("INV-5") or {})
    record["invoice_id"] = hostile
    items = _with_ids([dumps(record)])
    ledger = rig.run(items, kinesis=True)
    assert check_ledger(ledger, dict(items), exact_outcomes=False) == []
    assert rig.sot.requests == []


def _huge(drift: bool) -> bytes:
    record: dict[str, Any] = dict(pristine_invoice("INV-77") or {})
    record["notes"] = "x" * (1_200_000)
    if drift:
        del record["vendor_id"]
    return dumps(record)


@pytest.mark.integration
@pytest.mark.parametrize("kinesis", [False, True], ids=["sqs", "kinesis"])
def test_huge_records_over_one_mib_land_once_on_real_redis(
    kinesis: bool, evil_sot: EvilSourceOfTruth, evil_sidecar: Any, read_streams: ReadStreams
) -> None:
    items = _with_ids([_huge(False), _huge(True), b"[" + b"1," * 600_000 + b"1]"])
    result = deliver(evil_sidecar, items, kinesis=kinesis)
    assert result.failed == []
    ledger = read_streams()
    assert check_ledger(ledger, dict(items), exact_outcomes=False) == []
    assert ledger.outcome(items[2][0]) == "malformed"
    assert {ledger.outcome(items[0][0]), ledger.outcome(items[1][0])} <= {
        "clean",
        "repaired",
        *DLQ_REASONS,
    }
    assert evil_sot.unintended() == []


def test_expected_outcome_oracle_sees_hostile_ids_as_unknown() -> None:
    record = json.loads(drifted(5))
    record["invoice_id"] = "INV-\u0661\u0662\u0663"
    assert expected_outcome(dumps(record)) == "unrepairable"


BROKEN_EVENTS: dict[str, Any] = {
    "not an object": None,
    "a list": [],
    "no Records": {},
    "Records not a list": {"Records": None},
    "record not an object": {"Records": ["x"]},
    "SQS record without messageId": {"Records": [{"body": "{}"}]},
    "Kinesis record not an object": {"Records": [{"kinesis": "x"}]},
    "Kinesis sequenceNumber not a string": {
        "Records": [{"kinesis": {"sequenceNumber": 5, "data": ""}}]
    },
}


@pytest.mark.parametrize("event", list(BROKEN_EVENTS.values()), ids=list(BROKEN_EVENTS))
def test_an_event_that_names_no_items_is_refused_with_the_project_error(
    rig: FuzzRig, event: Any
) -> None:
    errors = require("sidecar_fn.errors")
    with pytest.raises(errors.InvalidEvent):
        rig.sidecar.handle_batch(event, LambdaContext())
    assert rig.client.exists(rig.keys["AOS_STREAM"], rig.keys["AOS_DLQ_STREAM"]) == 0


def test_records_without_a_usable_body_are_malformed_not_a_crash(rig: FuzzRig) -> None:
    event = {
        "Records": [
            {"messageId": "body-int", "body": 5},
            {"kinesis": {"sequenceNumber": "bad-base64", "data": "!!!"}},
            {"kinesis": {"sequenceNumber": "no-data"}},
        ]
    }
    report = rig.sidecar.handle_batch(event, LambdaContext())
    assert report.lambda_response() == {"batchItemFailures": []}
    ledger = read_ledger(rig.client, rig.keys["AOS_STREAM"], rig.keys["AOS_DLQ_STREAM"])
    assert {ledger.outcome(i) for i in ("body-int", "bad-base64", "no-data")} == {"malformed"}
