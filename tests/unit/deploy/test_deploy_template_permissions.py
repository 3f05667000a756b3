"""The template as SAM translates it: the function's role holds only what it needs, the
queues refuse plaintext, credentials stay out of the function's environment."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from samtranslator.translator.transform import transform

from tests.sam_template import load_template

REDIS_URL_PATTERN_TESTS = {
    "rediss://master.cache.amazonaws.com:6379/0": True,
    "rediss://app-user@master.cache.amazonaws.com:6379/0": True,
    "redis://localhost:6379/0": True,
    "rediss://:auth-token@master.cache.amazonaws.com:6379/0": False,
    "rediss://app-user:secret@master.cache.amazonaws.com:6379/0": False,
    "rediss://master.cache.amazonaws.com:6379/0?password=secret": False,
    "https://master.cache.amazonaws.com": False,
}


class _NoManagedPolicies:
    """Managed policy names would be looked up in IAM; the template names none."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return json.loads(json.dumps(load_template()))


@pytest.fixture(scope="module")
def translated(source: dict[str, Any]) -> dict[str, Any]:
    packaged = json.loads(json.dumps(source))
    packaged["Resources"]["SidecarFunction"]["Properties"]["CodeUri"] = "s3://bucket/key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        return transform(packaged, {}, _NoManagedPolicies())  # type: ignore[arg-type]


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def role_statements(translated: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for resource in translated["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                statements += policy["PolicyDocument"]["Statement"]
        if resource["Type"] == "AWS::IAM::Policy":
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_no_managed_policy_grants_sqs_on_every_queue(translated: dict[str, Any]) -> None:
    text = json.dumps(translated)
    assert "AWSLambdaSQSQueueExecutionRole" not in text
    assert "AWSLambdaBasicExecutionRole" not in text


def test_sqs_permissions_name_only_the_template_queues(translated: dict[str, Any]) -> None:
    queues = {name for name, r in translated["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    sqs_statements = [
        s
        for s in role_statements(translated)
        if any(str(a).startswith("sqs:") for a in walk(s["Action"]))
    ]
    assert sqs_statements
    for statement in sqs_statements:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        for resource in resources:
            assert resource != "*"
            assert resource["Fn::GetAtt"][0] in queues, resource
    consumed = {
        s["Resource"]["Fn::GetAtt"][0]
        for s in sqs_statements
        if "sqs:ReceiveMessage" in s["Action"]
    }
    assert consumed == {"IngestQueue"}


def test_vpc_access_only_with_a_vpc(translated: dict[str, Any]) -> None:
    role = translated["Resources"]["SidecarFunctionRole"]["Properties"]
    [only] = role["ManagedPolicyArns"]
    condition, when_in_vpc, otherwise = only["Fn::If"]
    assert condition == "InVpc"
    assert "AWSLambdaVPCAccessExecutionRole" in json.dumps(when_in_vpc)
    assert otherwise == {"Ref": "AWS::NoValue"}
    text = json.dumps({k: v for k, v in role.items() if k != "ManagedPolicyArns"})
    assert "ec2:" not in text


def test_every_queue_denies_plaintext_requests(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    queues = {name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    covered: set[str] = set()
    for resource in resources.values():
        if resource["Type"] != "AWS::SQS::QueuePolicy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if (
                statement["Effect"] == "Deny"
                and statement["Principal"] == "*"
                and statement["Action"] == "sqs:*"
                and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            ):
                targets = statement["Resource"]
                targets = targets if isinstance(targets, list) else [targets]
                covered |= {target["Fn::GetAtt"][0] for target in targets}
    assert covered == queues


def test_tls_is_required_unless_the_development_parameter_allows_plaintext(
    translated: dict[str, Any], source: dict[str, Any]
) -> None:
    variables = translated["Resources"]["SidecarFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["AOS_REQUIRE_TLS"] == {"Fn::If": ["RequireTls", "true", "false"]}
    assert source["Conditions"]["RequireTls"] == {
        "Fn::Equals": [{"Ref": "AllowInsecureTransport"}, "false"]
    }
    assert source["Parameters"]["AllowInsecureTransport"]["Default"] == "false"


def test_the_redis_credential_lives_in_secrets_manager(
    translated: dict[str, Any], source: dict[str, Any]
) -> None:
    variables = translated["Resources"]["SidecarFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["REDIS_AUTH_SECRET_ARN"] == {
        "Fn::If": ["HasRedisAuthToken", {"Ref": "RedisAuthSecret"}, {"Ref": "AWS::NoValue"}]
    }
    secret = translated["Resources"]["RedisAuthSecret"]
    assert secret["Properties"]["SecretString"] == {"Ref": "RedisAuthToken"}
    pattern = re.compile(source["Parameters"]["RedisUrl"]["AllowedPattern"])
    for url, allowed in REDIS_URL_PATTERN_TESTS.items():
        assert bool(pattern.fullmatch(url)) is allowed, url
