"""The CloudWatch dashboard of the template shows metrics the code really emits, and the URL is an output."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from localdev.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "ImsExport"  # POWERTOOLS_METRICS_NAMESPACE of the template
SERVICE = "ims-export"  # POWERTOOLS_SERVICE_NAME: Powertools' default dimension "service"
SOURCES = [*ROOT.glob("functions/*/app.py"), *ROOT.glob("layers/common/ims_export/**/*.py")]
# What the dashboard must show (the metric names of each concern).
REQUIRED = {
    "exports started / succeeded / failed": {"ExportStarted", "ExportSucceeded", "ExportFailed"},
    "duration": {"ExportDuration"},
    "polls": {"PollCount"},
    "throttles": {"Throttled"},
    "token refreshes": {"TokenRefreshed"},
    "fleet results": {"FleetImagesExported", "FleetImagesSkipped", "FleetImagesFailed"},
}


def emitted_metric_names() -> set[str]:
    """Every name given to ``add_metric``: a literal ``name=``, or the values of a constant mapping
    it is given through (``OUTCOME_METRICS[...]``)."""
    names: set[str] = set()
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric"):
                continue
            for keyword in node.keywords:
                if keyword.arg != "name":
                    continue
                value = keyword.value
                if isinstance(value, ast.Constant):
                    names.add(str(value.value))
                elif isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
                    mapping = constants.get(value.value.id)
                    if isinstance(mapping, ast.Dict):
                        names |= {str(v.value) for v in mapping.values if isinstance(v, ast.Constant)}
    return names


def dashboard() -> tuple[dict[str, Any], dict[str, Any]]:
    template = load_template(ROOT / "template.yaml")
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    # ${...} are CloudFormation's substitutions; any value keeps the JSON valid.
    return template, json.loads(re.sub(r"\$\{[^}]+\}", "x", body))


def dashboard_metrics() -> list[list[Any]]:
    _, body = dashboard()
    return [metric for widget in body["widgets"] for metric in widget["properties"]["metrics"]]


def test_every_custom_metric_on_the_dashboard_is_emitted_by_the_code() -> None:
    emitted = emitted_metric_names()
    shown = [metric for metric in dashboard_metrics() if metric[0] == NAMESPACE]

    assert shown
    for metric in shown:
        assert metric[1] in emitted, f"{metric[1]} is on the dashboard but no function emits it"
        assert metric[2:4] == ["service", SERVICE]  # the dimension Powertools adds


def test_the_dashboard_covers_every_concern_and_the_failed_executions() -> None:
    shown = {metric[1] for metric in dashboard_metrics() if metric[0] == NAMESPACE}
    for concern, names in REQUIRED.items():
        assert names <= shown, f"{concern}: {names - shown} missing"
    states = [metric for metric in dashboard_metrics() if metric[0] == "AWS/States"]
    assert {metric[1] for metric in states} >= {"ExecutionsFailed"}


def test_the_emitted_names_are_found() -> None:
    # Guards the scan itself: names known to be emitted in different ways are all seen.
    assert {"ExportStarted", "ExportSucceeded", "Throttled", "FleetDuration"} <= emitted_metric_names()


def test_the_dashboard_url_is_an_output() -> None:
    template, _ = dashboard()
    url = template["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert url.startswith("https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home")
    assert url.endswith("#dashboards:name=${ExportDashboard}")
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert namespace == NAMESPACE
