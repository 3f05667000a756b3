"""template.yaml's FIFO option: both queues turn FIFO together, deduplicated by content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[3]
FIFO_ONLY = {"Fn::If": ["IsFifoQueue", True, {"Ref": "AWS::NoValue"}]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode(str(ROOT / "template.yaml"))
    assert not matches, matches
    assert isinstance(decoded, dict)
    return decoded


def test_queue_type_defaults_to_standard_and_offers_fifo(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["QueueType"]
    assert parameter["Default"] == "standard"
    assert parameter["AllowedValues"] == ["standard", "fifo"]
    assert template["Conditions"]["IsFifoQueue"] == {"Fn::Equals": [{"Ref": "QueueType"}, "fifo"]}


@pytest.mark.parametrize("queue", ["IngestQueue", "IngestDeadLetterQueue"])
def test_queue_and_its_dead_letter_queue_are_fifo_with_content_deduplication(
    template: dict[str, Any], queue: str
) -> None:
    props = template["Resources"][queue]["Properties"]
    assert props["FifoQueue"] == FIFO_ONLY
    assert props["ContentBasedDeduplication"] == FIFO_ONLY


def test_fifo_trigger_rule_keeps_batches_within_what_fifo_allows(template: dict[str, Any]) -> None:
    rule = template["Rules"]["FifoBatches"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "QueueType"}, "fifo"]}
    assert len(rule["Assertions"]) == 2
