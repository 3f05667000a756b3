"""template.yaml keeps the deployment's invariants (visibility timeout, triggers, secret, env)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sidecar_fn.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
CONTRACT_ENVIRONMENT = {
    "REDIS_URL",
    "FARM_URL",
    "FARM_API_TOKEN_SECRET_ARN",
    "AOS_STREAM",
    "AOS_DLQ_STREAM",
    "AOS_SOURCE_ID",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_function_is_python312_built_by_make_from_the_repo_root(template: dict[str, Any]) -> None:
    function = template["Resources"]["SidecarFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    # SAM copies only the CodeUri (sidecar_fn/, not the whole tree with its .venv) to a
    # scratch directory, then runs the root Makefile's target from the repo root.
    assert function["Metadata"] == {
        "BuildMethod": "makefile",
        "ContextPath": ".",
        "WorkingDirectory": ".",
    }
    props = function["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["CodeUri"] == "sidecar_fn"
    assert props["Handler"] == "sidecar_fn.handler.handler"
    assert props["Timeout"] == {"Ref": "FunctionTimeout"}
    assert props["MemorySize"] == {"Ref": "FunctionMemorySize"}
    makefile = (ROOT / "Makefile").read_text()
    assert "build-SidecarFunction:" in makefile


def test_visibility_timeout_is_at_least_six_function_timeouts_plus_batching_window(
    template: dict[str, Any],
) -> None:
    params = template["Parameters"]
    timeouts = [int(v) for v in params["FunctionTimeout"]["AllowedValues"]]
    largest_window = int(params["MaximumBatchingWindowInSeconds"]["MaxValue"])
    table = template["Mappings"]["QueueVisibilityTimeout"]
    queue = template["Resources"]["IngestQueue"]["Properties"]

    assert queue["VisibilityTimeout"] == {
        "Fn::FindInMap": ["QueueVisibilityTimeout", {"Ref": "FunctionTimeout"}, "Seconds"]
    }
    assert sorted(int(k) for k in table) == sorted(timeouts)
    assert max(timeouts) <= 900
    for timeout in timeouts:
        seconds = int(table[str(timeout)]["Seconds"])
        assert 6 * timeout + largest_window <= seconds <= 43_200, timeout


def test_ingest_queue_redrives_to_the_dead_letter_queue(template: dict[str, Any]) -> None:
    redrive = template["Resources"]["IngestQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }
    dlq = template["Resources"]["IngestDeadLetterQueue"]["Properties"]
    queue = template["Resources"]["IngestQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]


def test_sqs_event_reports_batch_item_failures(template: dict[str, Any]) -> None:
    events = template["Resources"]["SidecarFunction"]["Properties"]["Events"]
    (sqs,) = [e for e in events.values() if e["Type"] == "SQS"]
    props = sqs["Properties"]
    assert props["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert props["BatchSize"] == {"Ref": "BatchSize"}
    assert props["MaximumBatchingWindowInSeconds"] == {"Ref": "MaximumBatchingWindowInSeconds"}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_kinesis_trigger_is_conditional_with_an_on_failure_queue(template: dict[str, Any]) -> None:
    mappings = _resources(template, "AWS::Lambda::EventSourceMapping")
    (kinesis,) = mappings.values()
    assert kinesis["Condition"] == "HasKinesisStream"
    assert template["Conditions"]["HasKinesisStream"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "KinesisStreamArn"}, ""]}]
    }
    props = kinesis["Properties"]
    for key in ("StartingPosition", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds"):
        assert key in props
    assert props["BisectBatchOnFunctionError"] is True
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    destination = props["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["KinesisFailureQueue", "Arn"]}
    failure_queue = template["Resources"]["KinesisFailureQueue"]
    assert failure_queue["Type"] == "AWS::SQS::Queue"
    assert failure_queue["Condition"] == "HasKinesisStream"
    for name, resource in template["Resources"].items():
        if name.startswith("Kinesis"):
            assert resource.get("Condition") == "HasKinesisStream", name


def test_environment_covers_the_spec_and_reads_the_token_from_the_secret(
    template: dict[str, Any],
) -> None:
    variables = template["Resources"]["SidecarFunction"]["Properties"]["Environment"]["Variables"]
    assert set(variables) >= CONTRACT_ENVIRONMENT
    assert "FARM_API_TOKEN" not in variables
    assert variables["FARM_API_TOKEN_SECRET_ARN"] == {"Ref": "FarmApiTokenSecret"}
    for name, value in variables.items():
        if name != "FARM_API_TOKEN_SECRET_ARN":
            assert "Ref" in value or "Fn::If" in value, name
    assert template["Parameters"]["RedisAuthToken"]["NoEcho"] is True
    assert template["Parameters"]["FarmApiToken"]["NoEcho"] is True


def test_secret_reads_are_scoped_to_the_template_and_salesforce_secrets(
    template: dict[str, Any],
) -> None:
    secrets = _resources(template, "AWS::SecretsManager::Secret")
    assert sorted(secrets) == ["FarmApiTokenSecret", "RedisAuthSecret"]
    assert "Policies" not in template["Resources"]["SidecarFunction"]["Properties"]
    role = template["Resources"]["SidecarFunctionRole"]["Properties"]
    [statement] = next(p for p in role["Policies"] if p["PolicyName"] == "secrets")[
        "PolicyDocument"
    ]["Statement"]
    assert statement["Resource"] == [
        {"Ref": "FarmApiTokenSecret"},
        {"Fn::If": ["HasRedisAuthToken", {"Ref": "RedisAuthSecret"}, {"Ref": "AWS::NoValue"}]},
        {
            "Fn::If": [
                "HasSalesforceSecret",
                {"Ref": "SalesforceCredentialsSecretArn"},
                {"Ref": "AWS::NoValue"},
            ]
        },
    ]


def test_the_salesforce_adapter_is_configured_only_when_chosen(template: dict[str, Any]) -> None:
    variables = template["Resources"]["SidecarFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["AOS_SOT_KIND"] == {"Ref": "AosSotKind"}
    assert variables["SALESFORCE_LOGIN_URL"]["Fn::If"][0] == "IsSalesforce"
    assert variables["SALESFORCE_CREDENTIALS_SECRET_ARN"]["Fn::If"][0] == "HasSalesforceSecret"
    assert "SALESFORCE_CLIENT_SECRET" not in variables
    rule = template["Rules"]["SalesforceNeedsLoginUrlAndSecret"]
    assert len(rule["Assertions"]) == 2
    assert template["Parameters"]["AosSotKind"]["AllowedValues"] == ["farm", "salesforce"]


def test_vpc_config_only_when_subnets_are_given(template: dict[str, Any]) -> None:
    vpc = template["Resources"]["SidecarFunction"]["Properties"]["VpcConfig"]
    condition, when_given, otherwise = vpc["Fn::If"]
    assert condition == "InVpc"
    assert when_given == {
        "SubnetIds": {"Ref": "SubnetIds"},
        "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
    }
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert template["Parameters"]["SubnetIds"]["Default"] == ""


def test_outputs_name_the_function_and_both_queues(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["SidecarFunctionArn"]["Value"] == {"Fn::GetAtt": ["SidecarFunction", "Arn"]}
    assert outputs["IngestQueueUrl"]["Value"] == {"Ref": "IngestQueue"}
    assert outputs["IngestDeadLetterQueueUrl"]["Value"] == {"Ref": "IngestDeadLetterQueue"}


def test_repair_settings_are_parameters_with_the_sidecars_defaults(
    template: dict[str, Any],
) -> None:
    variables = template["Resources"]["SidecarFunction"]["Properties"]["Environment"]["Variables"]
    parameters = template["Parameters"]
    defaults = Settings()
    for variable, parameter, default in (
        ("AOS_VERIFY_SHARE", "AosVerifyShare", defaults.verify_share),
        ("AOS_SOT_CACHE_TTL_SECONDS", "AosSotCacheTtlSeconds", defaults.sot_cache_ttl_s),
        ("AOS_SOT_CACHE_MAX_ENTRIES", "AosSotCacheMaxEntries", defaults.sot_cache_max_entries),
        ("AOS_WRITE_PART_RECORDS", "AosWritePartRecords", defaults.write_part_records),
    ):
        assert variables[variable] == {"Ref": parameter}
        assert float(parameters[parameter]["Default"]) == default
