"""The template as CloudFormation receives it (SAM's translator): least privilege and names per stack."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.iam_policies import (
    allowed_actions,
    as_list,
    expanded_template,
    role_statements,
)

# AWS offers no resource-level permissions for these: "*" is the only resource they accept
# (docs/security.md, "Permissions").
WILDCARD_RESOURCE_ACTIONS = frozenset(
    {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
)
ITEM_ACTIONS = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
TOKEN_CACHE = "parameter/${AWS::StackName}/token"
FUNCTION_ROLES = [
    "StartExportFunctionRole",
    "CheckExportFunctionRole",
    "RefreshTokenFunctionRole",
    "SelectImagesFunctionRole",
]


def all_statements() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, statement)
        for name, resource in expanded_template()["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        for statement in role_statements(name)
    ]


def test_the_expanded_template_has_the_roles_to_check() -> None:
    roles = {name for name, _ in all_statements()}
    assert set(FUNCTION_ROLES) | {"ExportStateMachineRole", "FleetStateMachineRole", "SmnApiRole"} <= roles


def test_no_action_is_a_wildcard() -> None:
    wildcards = [
        (role, action)
        for role, statement in all_statements()
        for action in as_list(statement["Action"])
        if "*" in action
    ]
    assert wildcards == []


def test_a_wildcard_resource_only_where_aws_requires_it() -> None:
    offending = [
        (role, sorted(set(as_list(statement["Action"])) - WILDCARD_RESOURCE_ACTIONS))
        for role, statement in all_statements()
        if "*" in as_list(statement.get("Resource"))
        and not set(as_list(statement["Action"])) <= WILDCARD_RESOURCE_ACTIONS
    ]
    assert offending == []


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_each_function_gets_single_item_actions_on_the_table_only(role: str) -> None:
    dynamodb = {
        action
        for statement in role_statements(role)
        for action in as_list(statement["Action"])
        if action.startswith("dynamodb:")
    }
    assert dynamodb == ITEM_ACTIONS
    assert allowed_actions(role, "IdempotencyTable") == ITEM_ACTIONS


@pytest.mark.parametrize("role", ["FleetReportFunctionRole", "DescribeOutcomeFunctionRole"])
def test_the_functions_that_read_only_their_input_touch_no_table(role: str) -> None:
    assert not any("dynamodb" in json.dumps(statement) for statement in role_statements(role))


def test_the_hand_over_step_may_only_put_an_item_of_the_table_and_reads_no_secret() -> None:
    assert allowed_actions("HandOverFunctionRole", "IdempotencyTable") == {"dynamodb:PutItem"}
    assert not any("ssm:" in json.dumps(statement) for statement in role_statements("HandOverFunctionRole"))


@pytest.mark.parametrize("role", FUNCTION_ROLES)
def test_every_step_that_can_refresh_the_token_can_store_it(role: str) -> None:
    assert {"ssm:GetParameter", "ssm:PutParameter"} <= allowed_actions(role, TOKEN_CACHE)


def test_the_smn_endpoint_exists_only_with_an_allowed_topic_and_can_only_start_exports() -> None:
    resources = expanded_template()["Resources"]
    smn = [name for name, resource in resources.items() if name.startswith("SmnApi")]
    assert len(smn) >= 4  # API, stage, deployment, role
    assert {resources[name].get("Condition") for name in smn} == {"SmnEndpointOn"}
    assert expanded_template()["Conditions"]["SmnEndpointOn"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SmnAllowedTopicUrns"}, ""]}]
    }
    [statement] = role_statements("SmnApiRole")
    assert (statement["Action"], statement["Resource"]) == (
        "states:StartExecution",
        {"Ref": "ExportStateMachine"},
    )
    assert "ServerlessRestApi" not in resources  # no implicit API passing bodies through


def test_the_smn_stage_is_throttled_by_parameters() -> None:
    resources = expanded_template()["Resources"]
    [stage] = [resource for resource in resources.values() if resource["Type"] == "AWS::ApiGateway::Stage"]
    [settings] = stage["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == {
        "Fn::Select": [0, {"Fn::Split": [",", {"Ref": "SmnThrottling"}]}]
    }
    assert settings["ThrottlingBurstLimit"] == {
        "Fn::Select": [1, {"Fn::Split": [",", {"Ref": "SmnThrottling"}]}]
    }


def test_every_stage_of_the_api_is_throttled() -> None:
    # A stage also comes into being through a Deployment's StageName: SAM's deployment once added an
    # unthrottled "Stage" beside smn, where anyone could POST without limit.
    resources = expanded_template()["Resources"].values()
    throttled = {
        resource["Properties"]["StageName"]
        for resource in resources
        if resource["Type"] == "AWS::ApiGateway::Stage"
        and all(
            "ThrottlingRateLimit" in setting for setting in resource["Properties"].get("MethodSettings", [])
        )
        and resource["Properties"].get("MethodSettings")
    }
    named_by_deployments = {
        resource["Properties"]["StageName"]
        for resource in resources
        if resource["Type"] == "AWS::ApiGateway::Deployment" and "StageName" in resource["Properties"]
    }
    stages = {
        resource["Properties"]["StageName"]
        for resource in resources
        if resource["Type"] == "AWS::ApiGateway::Stage"
    }
    assert stages | named_by_deployments == throttled == {"smn"}


def _smn_throttling_accepts(value: str) -> bool:
    """What CloudFormation's parameter check says of ``value`` (AllowedPattern matches the whole value)."""
    spec = expanded_template()["Parameters"]["SmnThrottling"]
    return re.fullmatch(spec["AllowedPattern"], value) is not None


@pytest.mark.parametrize("value", ["5,20", "2.5,10", "0.5,1", "0.05,3", "10000,5000"])
def test_smn_throttling_accepts_a_rate_and_a_burst_that_the_stage_reads_as_numbers(value: str) -> None:
    assert _smn_throttling_accepts(value)
    rate, burst = value.split(",")  # what !Select [0|1, !Split [",", ...]] picks: both indexes exist
    assert float(rate) > 0 and int(burst) > 0


# A rate or a burst of 0 lets no request through: every SMN delivery would be answered 429.
@pytest.mark.parametrize("value", ["0,0", "0,20", "5,0", "0.0,20", "0.00,5", "00,5", "5,00"])
def test_smn_throttling_refuses_a_rate_or_burst_of_0(value: str) -> None:
    assert not _smn_throttling_accepts(value)
    assert "both above 0" in expanded_template()["Parameters"]["SmnThrottling"]["ConstraintDescription"]


# One value used to pass the parameter check and fail in the deploy (Fn::Select out of range).
@pytest.mark.parametrize(
    "value", ["5", "20", "5,", ",20", "5,20,1", "5, 20", "five,20", "5,2.5", "-1,20", ""]
)
def test_smn_throttling_refuses_anything_but_rate_comma_burst_at_parameter_validation(value: str) -> None:
    spec = expanded_template()["Parameters"]["SmnThrottling"]
    assert spec["Type"] == "String"  # a CommaDelimitedList takes any number of values
    assert not _smn_throttling_accepts(value)
    assert "rate,burst" in spec["ConstraintDescription"]


def test_smn_throttling_default_is_valid_and_the_one_the_configuration_page_gives() -> None:
    default = expanded_template()["Parameters"]["SmnThrottling"]["Default"]
    assert _smn_throttling_accepts(default)
    page = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    configuration = page.read_text(encoding="utf-8")
    [row] = [line for line in configuration.splitlines() if line.startswith("| `SmnThrottling` |")]
    assert row.split("|")[3].strip() == f"`{default}`"


NAMED = {
    "AWS::Scheduler::Schedule": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
}


def test_every_physical_name_carries_the_stack_name() -> None:
    names = {
        logical_id: resource["Properties"].get(NAMED[resource["Type"]])
        for logical_id, resource in expanded_template()["Resources"].items()
        if resource["Type"] in NAMED
    }
    assert len([name for name in names if "Schedule" in name or "Hourly" in name]) == 3
    assert {
        logical_id: name for logical_id, name in names.items() if "${AWS::StackName}" not in json.dumps(name)
    } == {}


EXTENSION_LAYER = {
    "Fn::If": [
        "ParametersExtensionOn",
        {
            "Fn::If": [
                "ParametersExtensionLatest",
                "{{resolve:ssm:/aws/service/aws-parameters-and-secrets-lambda-extension/arm64/latest}}",
                {"Ref": "ParametersExtensionLayerArn"},
            ]
        },
        {"Ref": "AWS::NoValue"},
    ]
}


def test_every_function_reads_the_token_through_the_parameters_extension_with_its_cache_off() -> None:
    resources = expanded_template()["Resources"]
    functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert len(functions) >= 5
    for name, function in functions.items():
        properties = function["Properties"]
        assert EXTENSION_LAYER in properties["Layers"], name
        variables = properties["Environment"]["Variables"]
        # The port tells the code the extension is there; without the layer it is empty (Powertools reads).
        assert variables["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] == {
            "Fn::If": ["ParametersExtensionOn", "2773", ""]
        }, name
        # A refresh's new record must be seen by the next read, not up to 5 minutes later.
        assert variables["PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED"] == "FALSE", name
        assert properties["TracingConfig"] == {"Mode": "Active"}, name
