"""Arbitrary source-of-truth answers: merged only when they are the asked invoice, never a crash."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from .batches import Item, drifted, dumps
from .conftest import FAST_RECOVERY, SidecarFactory
from .delivery import deliver
from .evil_sot import EvilSourceOfTruth, pristine_invoice
from .ledger import check_ledger, read_ledger, schema_drift
from .test_fuzz_handler import FUZZ, json_values

pytestmark = pytest.mark.reliability

SLOT = st.one_of(
    st.just(("pristine", None)),
    st.just(("pristine", None)),
    st.just(("pristine", None)),
    st.just(("unknown", None)),
    st.just(("other_invoice", None)),
    st.tuples(
        st.just("replace"),
        st.dictionaries(
            st.sampled_from(
                ["invoice_id", "vendor_id", "status", "total_amount", "billing_address", "extra"]
            ),
            json_values,
            min_size=1,
            max_size=3,
        ),
    ),
    st.tuples(st.just("not_a_record"), json_values.filter(lambda v: not isinstance(v, dict))),
)
NO_BREAKER = {"AOS_SOT_BREAKER_THRESHOLD": "1000000000"}
SHAPE = st.sampled_from(["aligned"] * 8 + ["short", "object", "garbage", "503"])


class ScriptedAnswers:
    """Builds each answer from drawn slot policies and remembers what it said per id."""

    def __init__(self, slots: list[tuple[str, Any]], shape: str):
        self.slots, self.shape = slots, shape
        self.said: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _slot(self, index: int, invoice_id: str) -> Any:
        policy, value = self.slots[index % len(self.slots)]
        truth = pristine_invoice(invoice_id)
        if policy == "pristine":
            return truth
        if policy == "unknown":
            return None
        if policy == "other_invoice":
            return pristine_invoice("INV-1" if invoice_id != "INV-1" else "INV-2")
        if policy == "replace":
            return {**(truth or {}), **value}
        return value

    def __call__(self, ids: list[str]) -> tuple[int, bytes]:
        if self.shape == "503":
            return 503, b'[{"errorCode": "SERVER_UNAVAILABLE", "message": "later"}]'
        if self.shape == "garbage":
            return 200, b"\x00\xff not json"
        answer = [self._slot(index, invoice_id) for index, invoice_id in enumerate(ids)]
        with self._lock:
            self.said.update(zip(ids, answer, strict=True))
        if self.shape == "short":
            answer = answer[:-1]
        if self.shape == "object":
            return 200, json.dumps({"records": answer}).encode()
        return 200, json.dumps(answer).encode()

    def truth(self, invoice_id: str) -> Any:
        """What the source said for `invoice_id`, when it was a record of that invoice."""
        record = self.said.get(invoice_id)
        if isinstance(record, dict) and record.get("invoice_id") == invoice_id:
            return record
        return None


@pytest.fixture
def scripted(
    evil_sot: EvilSourceOfTruth, make_sidecar: SidecarFactory, unique_keys: dict[str, str]
) -> Iterator[tuple[Any, Any, EvilSourceOfTruth, tuple[str, str]]]:
    """A sidecar on fakeredis whose source of truth answers from a script."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    env = {
        **unique_keys,
        **FAST_RECOVERY,
        "FARM_URL": evil_sot.url,
        "AOS_SOT_MAX_ATTEMPTS": "1",
        **NO_BREAKER,
    }
    evil_sot.set("scripted")
    keys = (unique_keys["AOS_STREAM"], unique_keys["AOS_DLQ_STREAM"])
    yield make_sidecar(env, redis_client=client), client, evil_sot, keys


_counter = iter(range(10**9))


@FUZZ
@given(
    slots=st.lists(SLOT, min_size=1, max_size=3),
    shape=SHAPE,
    numbers=st.lists(st.integers(2, 999_999), min_size=1, max_size=8, unique=True),
)
def test_any_source_answer_is_merged_only_when_it_is_the_asked_invoice(
    scripted: tuple[Any, Any, EvilSourceOfTruth, tuple[str, str]],
    slots: list[tuple[str, Any]],
    shape: str,
    numbers: list[int],
) -> None:
    sidecar, client, server, (stream, dlq) = scripted
    answers = ScriptedAnswers(slots, shape)
    server.responder = answers
    client.delete(stream, dlq)
    items: list[Item] = [(f"sot-fuzz-{next(_counter):09d}", drifted(n)) for n in numbers]
    result = deliver(sidecar, items)
    ledger = read_ledger(client, stream, dlq)
    problems = check_ledger(
        ledger, dict(items), pending=result.failed, sot=answers.truth, exact_outcomes=False
    )
    assert problems == []
    for item_id, raw in items:
        outcome = ledger.outcome(item_id)
        event(f"outcome: {outcome or 'failed back'}")
        invoice_id = json.loads(raw)["invoice_id"]
        said = answers.truth(invoice_id)
        if outcome == "repaired":
            assert said is not None and not (schema_drift(said) & {"vendor_id"})
        if outcome == "unrepairable":
            assert invoice_id in answers.said, "dead-lettered without the source's answer"
            assert said is None or "vendor_id" in schema_drift(said)
    assert server.unintended() == []


def test_oracle_reads_only_matching_records() -> None:
    answers = ScriptedAnswers([("other_invoice", None)], "aligned")
    answers(["INV-5"])
    assert answers.truth("INV-5") is None
    assert dumps(answers.said["INV-5"])
