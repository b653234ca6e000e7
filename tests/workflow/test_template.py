"""Static checks of template.yaml and the definition it deploys (sam validate cannot see into either)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from ims_export.settings import ENV_NAMES, TUNABLE, Settings
from localdev.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
TEMPLATE_TEXT = (ROOT / "template.yaml").read_text(encoding="utf-8")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
DEFINITION_TEXT = (ROOT / "statemachine" / "export.asl.json").read_text(encoding="utf-8")
FLEET_DEFINITION_TEXT = (ROOT / "statemachine" / "fleet.asl.json").read_text(encoding="utf-8")
CHECKED_SERVICES = ("ssm", "kms", "dynamodb", "events", "sns", "states")
STATE_MACHINE = RESOURCES["ExportStateMachine"]["Properties"]
FLEET_MACHINE = RESOURCES["FleetStateMachine"]["Properties"]


def _statements(node: Any) -> list[dict[str, Any]]:
    """Every IAM statement under ``node`` (both branches of an Fn::If included)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            found.append(node)
        for value in node.values():
            found.extend(_statements(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_statements(value))
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policies(resource: dict[str, Any]) -> list[Any]:
    """A resource's Policies, a managed policy of the template (``!Ref``) replaced by its document."""
    policies = []
    for policy in resource.get("Properties", {}).get("Policies", []):
        managed = RESOURCES.get(policy.get("Ref", "")) if isinstance(policy, dict) else None
        policies.append(managed["Properties"]["PolicyDocument"] if managed else policy)
    return policies


POLICY_STATEMENTS = [
    (name, statement)
    for name, resource in RESOURCES.items()
    for statement in _statements(_policies(resource))
]


def test_policies_have_statements_to_check() -> None:
    assert {name for name, _ in POLICY_STATEMENTS} == {
        "StartExportFunction",
        "CheckExportFunction",
        "VerifyExportFunction",
        "RetireExportsFunction",
        "HandOverFunction",
        "RefreshTokenFunction",
        "SelectImagesFunction",
        "ExportStateMachine",
        "FleetStateMachine",
        "SmnApiRole",
    }


@pytest.mark.parametrize("function", ["FleetReportFunction", "DescribeOutcomeFunction"])
def test_functions_that_read_only_their_input_get_no_permissions(function: str) -> None:
    # SAM's basic execution role (logs, traces) is all they have.
    assert "Policies" not in RESOURCES[function]["Properties"]


def test_the_hand_over_step_may_only_put_one_item_of_the_table() -> None:
    [statement] = [s for name, s in POLICY_STATEMENTS if name == "HandOverFunction"]
    assert statement["Action"] == ["dynamodb:PutItem"]
    assert statement["Resource"] == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}


def test_the_token_cache_statements_are_written_once() -> None:
    users = [
        name for name, resource in RESOURCES.items() if {"Ref": "TokenCachePolicy"} in _policies_raw(resource)
    ]
    assert users == [
        "StartExportFunction",
        "CheckExportFunction",
        "VerifyExportFunction",
        "RetireExportsFunction",
        "RefreshTokenFunction",
        "SelectImagesFunction",
    ]
    reads = [name for name, s in POLICY_STATEMENTS if s.get("Sid") == "ReadCredentials"]
    assert len(reads) == len(users)  # each reaches it through the one managed policy, none has a copy
    assert TEMPLATE_TEXT.count("Sid: ReadCredentials") == 1


def _policies_raw(resource: dict[str, Any]) -> list[Any]:
    return list(resource.get("Properties", {}).get("Policies", []))


@pytest.mark.parametrize(
    ("resource", "statement"), POLICY_STATEMENTS, ids=[f"{n}-{s.get('Sid')}" for n, s in POLICY_STATEMENTS]
)
def test_no_wildcard_actions_or_resources_for_sensitive_services(
    resource: str, statement: dict[str, Any]
) -> None:
    actions = [str(action) for action in _as_list(statement["Action"])]
    assert "*" not in actions
    sensitive = [action for action in actions if action.split(":")[0] in CHECKED_SERVICES]
    assert not [action for action in sensitive if action.endswith("*")]
    if sensitive:
        assert "*" not in _as_list(statement["Resource"])


def test_kms_is_only_reachable_through_ssm() -> None:
    kms_statements = [
        s for _, s in POLICY_STATEMENTS if any(str(a).startswith("kms:") for a in _as_list(s["Action"]))
    ]
    assert len(kms_statements) == 6  # start, check, verify, retire, refresh and select functions
    for statement in kms_statements:
        assert "kms:ViaService" in statement["Condition"]["StringEquals"]


def _strings(node: Any) -> list[str]:
    """Every string inside ``node`` (the pieces of an Fn::Sub or Fn::If included)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for value in node.values() for text in _strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in _strings(value)]
    return []


def _kms_statements_by_condition(node: Any, condition: str | None = None) -> list[tuple[str | None, Any]]:
    """(the Fn::If condition a KMS statement is granted under, if any; the statement)."""
    found: list[tuple[str | None, Any]] = []
    if isinstance(node, dict):
        if "Effect" in node and any(str(a).startswith("kms:") for a in _as_list(node["Action"])):
            return [(condition, node)]
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return _kms_statements_by_condition(when_true, name) + _kms_statements_by_condition(when_false)
        for value in node.values():
            found.extend(_kms_statements_by_condition(value, condition))
    elif isinstance(node, list):
        for value in node:
            found.extend(_kms_statements_by_condition(value, condition))
    return found


def test_kms_is_granted_only_on_the_given_key() -> None:
    granted = [
        pair for resource in RESOURCES.values() for pair in _kms_statements_by_condition(_policies(resource))
    ]
    assert len(granted) == 6  # start, check, verify, retire, refresh and select functions
    for condition, statement in granted:
        # aws/ssm needs no IAM permission: without KmsKeyArn there is no KMS statement at all.
        assert condition == "HasKmsKey"
        assert not [text for text in _strings(statement["Resource"]) if "*" in text]
        assert statement["Resource"] == {"Ref": "KmsKeyArn"}


def test_only_the_functions_that_refresh_the_token_write_it() -> None:
    writers = {name for name, s in POLICY_STATEMENTS if "ssm:PutParameter" in _as_list(s["Action"])}
    # Every function that may refresh the token stores it (under the refresh lock); the report function
    # and the state machines never hold one.
    assert writers == {
        "StartExportFunction",
        "CheckExportFunction",
        "VerifyExportFunction",
        "RetireExportsFunction",
        "RefreshTokenFunction",
        "SelectImagesFunction",
    }
    assert all(
        "parameter/${AWS::StackName}/token" in str(s["Resource"])
        for _, s in POLICY_STATEMENTS
        if "ssm:PutParameter" in _as_list(s["Action"])
    )


@pytest.mark.parametrize(
    ("text", "machine"), [(DEFINITION_TEXT, STATE_MACHINE), (FLEET_DEFINITION_TEXT, FLEET_MACHINE)]
)
def test_every_placeholder_of_the_definition_is_substituted(text: str, machine: dict[str, Any]) -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == set(machine["DefinitionSubstitutions"])


def test_fleet_state_machine_runs_the_export_machine_and_may_only_follow_its_executions() -> None:
    definition = json.loads(FLEET_DEFINITION_TEXT)
    assert FLEET_MACHINE["DefinitionUri"] == "statemachine/fleet.asl.json"
    assert FLEET_MACHINE["Type"] == "STANDARD"
    assert FLEET_MACHINE["Tracing"] == {"Enabled": True}
    assert FLEET_MACHINE["DefinitionSubstitutions"]["ExportStateMachineArn"] == {"Ref": "ExportStateMachine"}
    statements = {s.get("Sid"): s for name, s in POLICY_STATEMENTS if name == "FleetStateMachine"}
    assert statements["RunChildExports"]["Resource"] == {"Ref": "ExportStateMachine"}
    assert "-export:*" in json.dumps(statements["FollowChildExports"]["Resource"])
    tasks = [
        state
        for states in (definition["States"], definition["States"]["ExportPage"]["ItemProcessor"]["States"])
        for state in states.values()
        if state["Type"] == "Task" and ".sync" not in state["Resource"]
    ]
    assert all("TimeoutSeconds" in task or "TimeoutSecondsPath" in task for task in tasks)


def test_fleet_schedule_always_sets_its_input_and_the_concurrency_default_reaches_the_function() -> None:
    schedule = FLEET_MACHINE["Events"]["Scheduled"]["Properties"]
    assert schedule["Input"] == {"Ref": "FleetSelection"}
    default = json.loads(TEMPLATE["Parameters"]["FleetSelection"]["Default"])
    assert default["trigger"] == "fleet"
    assert "<aws.scheduler.scheduled-time>" in default.values()
    # An empty FleetScheduleExpression (the default) leaves the schedule disabled.
    assert schedule["State"] == {"Fn::If": ["FleetScheduleOn", "ENABLED", "DISABLED"]}
    assert TEMPLATE["Parameters"]["FleetScheduleExpression"]["Default"] == ""


def test_alarm_on_failed_exports() -> None:
    alarm = RESOURCES["FailedExportsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "ExportStateMachine"}}]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_definition_and_state_machine_settings() -> None:
    definition = json.loads(DEFINITION_TEXT)
    assert STATE_MACHINE["DefinitionUri"] == "statemachine/export.asl.json"
    assert STATE_MACHINE["Type"] == "STANDARD"
    assert STATE_MACHINE["Tracing"] == {"Enabled": True}
    assert STATE_MACHINE["Logging"]["Destinations"]
    # The per-execution backstop must stay above the largest configurable export deadline.
    bound = Settings.model_json_schema()["properties"]["execution_timeout_seconds"]["maximum"]
    assert definition["TimeoutSeconds"] > bound
    tasks = [state for state in definition["States"].values() if state["Type"] == "Task"]
    assert all("TimeoutSeconds" in task or "TimeoutSecondsPath" in task for task in tasks)


def test_globals_and_layer() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    layer = RESOURCES["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / "layers" / "common" / "Makefile").read_text(encoding="utf-8")
    assert "build-CommonLayer:" in makefile
    assert "PLATFORM := manylinux2014_aarch64" in makefile
    assert "botocore" in makefile


def test_the_functions_skip_pydantics_plugin_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pinned pydantic honours the value the template sets: no entry-point scan on the first model build.
    from pydantic.plugin import _loader

    value = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["PYDANTIC_DISABLE_PLUGINS"]

    def scan(**_: Any) -> Any:
        raise AssertionError("pydantic scanned the entry points for plugins")

    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", value)
    monkeypatch.setattr(_loader, "_plugins", None)
    monkeypatch.setattr(_loader, "entry_points", scan)
    assert list(_loader.get_plugins()) == []


def test_idempotency_table_expires_items() -> None:
    table = RESOURCES["IdempotencyTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_schedule_always_sets_its_input() -> None:
    schedule = STATE_MACHINE["Events"]["Scheduled"]["Properties"]
    assert schedule["Input"]
    assert "trigger" in json.dumps(schedule["Input"])


@pytest.mark.parametrize(
    ("rule", "sample"),
    [("ImageCreated", "image-created.json"), ("ImageCreatedTrace", "image-created-cts.json")],
)
def test_trigger_rules_match_their_sample_event_only(rule: str, sample: str) -> None:
    pattern = EventPattern.load(json.dumps(STATE_MACHINE["Events"][rule]["Properties"]["Pattern"]))
    samples = {
        path.name: json.loads(path.read_text(encoding="utf-8")) for path in (ROOT / "events").glob("*.json")
    }
    matching = {
        name for name, event in samples.items() if "detail-type" in event and pattern.matches_event(event)
    }
    assert matching == {sample}


def test_the_export_limits_reach_the_start_step_through_settings_only() -> None:
    # Tuning keys of the Settings parameter: no definition substitution, no payload of their own.
    for variable in ("EXECUTION_TIMEOUT_SECONDS", "MAX_POLLS_PER_EXECUTION", "MAX_IMAGE_CHECKS"):
        assert variable in TUNABLE
        assert ENV_NAMES[variable.lower()] == variable
        assert variable not in TEMPLATE_TEXT
    assert (
        set(STATE_MACHINE["DefinitionSubstitutions"]) & {"ExecutionTimeoutSeconds", "MaxPollsPerExecution"}
        == set()
    )
    assert "limits" not in DEFINITION_TEXT


def _configuration_table(heading: str) -> list[list[str]]:
    """The rows (first cells) of the first table after ``heading`` in docs/configuration.md."""
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    rows: list[list[str]] = []
    for line in after.splitlines():
        if line.startswith("|"):
            rows.append(re.findall(r"`([A-Z][A-Za-z0-9_]*)`", line.split("|")[1]))
        elif rows:
            break
    return rows[2:]  # header and rule


def test_every_template_parameter_has_a_description_for_guided_deploys() -> None:
    # `sam deploy --guided` shows the Description with each question; without one, a bare name.
    undescribed = [name for name, spec in TEMPLATE["Parameters"].items() if not spec.get("Description")]
    assert undescribed == []


def test_every_template_parameter_and_every_tuning_key_is_documented() -> None:
    parameters = {name for row in _configuration_table("# Configuration\n") for name in row}
    assert set(TEMPLATE["Parameters"]) <= parameters
    tuning = {name for row in _configuration_table("Tuning (keys of `Settings`)") for name in row}
    assert tuning == TUNABLE
