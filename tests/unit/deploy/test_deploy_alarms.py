"""template.yaml operations: alarms on errors, failed, unrepairable, drift rate; dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from sidecar_fn.ports import CLEAN, REPAIRED
from sidecar_fn.sidecar import COUNT_KEYS

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode(str(ROOT / "template.yaml"))
    assert not matches, matches
    assert isinstance(decoded, dict)
    return decoded


def test_errors_alarm_watches_the_function(template: dict[str, Any]) -> None:
    props = template["Resources"]["SidecarErrorsAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", "Errors")
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "SidecarFunction"}}]
    assert props["Period"] == 60


@pytest.mark.parametrize(
    ("alarm", "metric"), [("FailedRecordsAlarm", "failed"), ("UnrepairableAlarm", "unrepairable")]
)
def test_record_alarms_use_the_sidecars_emf_metrics(
    template: dict[str, Any], alarm: str, metric: str
) -> None:
    props = template["Resources"][alarm]["Properties"]
    assert metric in COUNT_KEYS and props["MetricName"] == metric
    assert props["Namespace"] == {"Ref": "PowertoolsMetricsNamespace"}
    assert props["Dimensions"] == [{"Name": "service", "Value": {"Ref": "PowertoolsServiceName"}}]


def test_drift_rate_is_drifted_over_every_final_outcome(template: dict[str, Any]) -> None:
    metrics = template["Resources"]["DriftRateAlarm"]["Properties"]["Metrics"]
    by_id = {m["Id"]: m for m in metrics}
    assert [m["Id"] for m in metrics if m["ReturnData"]] == ["rate"]
    summed = set(re.findall(r"[a-z_]+", by_id["records"]["Expression"]))
    assert summed == {CLEAN, REPAIRED, "malformed", "unrepairable"}
    for name in summed | {"drifted"}:
        assert by_id[name]["MetricStat"]["Metric"]["MetricName"] == name


def test_the_dashboard_body_is_json_with_the_per_field_drift_graph(
    template: dict[str, Any],
) -> None:
    body, names = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"][
        "Fn::Sub"
    ]
    values = {name: f"<{name}>" for name in names} | {"AWS::Region": "eu-west-1"}
    unknown = set(re.findall(r"\$\{([^}]+)\}", body)) - set(values)
    assert unknown == set()
    widgets = json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], body))["widgets"]
    search = widgets[0]["properties"]["metrics"][0][0]["expression"]
    assert 'MetricName="drift"' in search and "field" in search


def test_the_stats_ttl_reaches_the_function(template: dict[str, Any]) -> None:
    env = template["Resources"]["SidecarFunction"]["Properties"]["Environment"]["Variables"]
    assert env["AOS_STATS_TTL_SECONDS"] == {"Ref": "AosStatsTtlSeconds"}
    assert template["Parameters"]["AosStatsTtlSeconds"]["Default"] == 35 * 24 * 3600
