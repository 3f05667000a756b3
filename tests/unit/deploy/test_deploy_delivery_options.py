"""template.yaml's delivery options: FIFO queue pair, dedupe key, Redis Cluster."""

from __future__ import annotations

from typing import Any

import pytest

FIFO_ONLY = {"Fn::If": ["IsFifoQueue", True, {"Ref": "AWS::NoValue"}]}


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


def test_cluster_mode_leaves_default_stream_names_to_the_sidecar(template: dict[str, Any]) -> None:
    env = template["Resources"]["SidecarFunction"]["Properties"]["Environment"]["Variables"]
    assert env["AOS_REDIS_CLUSTER"] == {"Ref": "AosRedisCluster"}
    assert env["AOS_REDIS_WAIT_REPLICAS"] == {"Ref": "AosRedisWaitReplicas"}
    assert env["AOS_STREAM"] == {
        "Fn::If": ["ClusterDefaultStream", {"Ref": "AWS::NoValue"}, {"Ref": "AosStream"}]
    }
    default = template["Parameters"]["AosStream"]["Default"]
    condition = template["Conditions"]["ClusterDefaultStream"]["Fn::And"]
    assert condition[1] == {"Fn::Equals": [{"Ref": "AosStream"}, default]}


def test_dedupe_key_is_passed_only_when_given(template: dict[str, Any]) -> None:
    env = template["Resources"]["SidecarFunction"]["Properties"]["Environment"]["Variables"]
    assert env["AOS_DEDUPE_KEY"] == {
        "Fn::If": ["HasDedupeKey", {"Ref": "AosDedupeKey"}, {"Ref": "AWS::NoValue"}]
    }
