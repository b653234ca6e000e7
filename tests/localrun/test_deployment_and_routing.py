"""Template resolution (localdev.deployment) and trigger routing (localdev.routing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localdev.deployment import TemplateResolutionError, local_deployment
from localdev.routing import NoMatchingTriggerError, execution_input_for
from localdev.stepfunctions import LocalWorkflow

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def _event(name: str) -> object:
    return json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))


def test_parameters_default_and_override() -> None:
    defaults = local_deployment(TEMPLATE)
    overridden = local_deployment(TEMPLATE, {"Settings": '{"POLL_MIN_SECONDS": 3}', "ExportBucket": "b1"})

    assert defaults.environment["IMS_EXPORT_SETTINGS"] == "{}"
    assert defaults.environment["EXPORT_BUCKET"] == ""
    assert defaults.environment["TOKEN_PARAMETER"] == "/ims-export-local/token"  # carries the stack name
    assert overridden.environment["IMS_EXPORT_SETTINGS"] == '{"POLL_MIN_SECONDS": 3}'
    assert overridden.environment["EXPORT_BUCKET"] == "b1"


def test_unknown_parameter_is_an_error() -> None:
    with pytest.raises(TemplateResolutionError, match="NoSuchParameter"):
        local_deployment(TEMPLATE, {"NoSuchParameter": "x"})


def test_ref_getatt_sub_and_if_resolve() -> None:
    deployment = local_deployment(TEMPLATE)
    substitutions = deployment.substitutions

    assert substitutions["StartExportFunctionArn"] == LocalWorkflow.function_arn("StartExportFunction")
    assert deployment.environment["IDEMPOTENCY_TABLE"] == "ims-export-local-IdempotencyTable"  # Ref
    assert substitutions["NotificationTopicArn"] == ""  # If: no topic by default
    created = local_deployment(TEMPLATE, {"NotificationTopicArn": "create"})
    assert created.substitutions["NotificationTopicArn"] == LocalWorkflow.topic_arn("NotificationTopic")
    given = local_deployment(TEMPLATE, {"NotificationTopicArn": "arn:aws:sns:eu-central-1:1:t"})
    assert given.substitutions["NotificationTopicArn"] == "arn:aws:sns:eu-central-1:1:t"
    assert deployment.definition_path == ROOT / "statemachine" / "export.asl.json"
    assert deployment.handlers["CheckExportFunction"] == ROOT / "functions" / "check_export" / "app.py"


def test_sub_replaces_pseudo_parameters(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        """Parameters:
  Name: {Type: String, Default: n}
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: machine.asl.json
      DefinitionSubstitutions:
        Where: !Sub "${AWS::Region}/${Name}"
        Joined: !Join ["-", [a, !Ref Name]]
        Unsupported: x
""",
        encoding="utf-8",
    )
    deployment = local_deployment(template, {"Name": "x"})
    assert deployment.substitutions["Where"] == "eu-central-1/x"
    assert deployment.substitutions["Joined"] == "a-x"


def test_unsupported_function_is_an_error(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        """Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: m.asl.json
      DefinitionSubstitutions:
        Zone: !GetAZs ""
""",
        encoding="utf-8",
    )
    with pytest.raises(TemplateResolutionError, match="Fn::GetAZs"):
        local_deployment(template)


@pytest.mark.parametrize(
    ("event_name", "rule"),
    [("image-created.json", "ImageCreated"), ("image-created-cts.json", "ImageCreatedTrace")],
)
def test_each_rule_matches_its_sample_event(event_name: str, rule: str) -> None:
    event = _event(event_name)
    route, execution_input = execution_input_for(event, TEMPLATE)
    assert route == f"rule {rule}"
    assert execution_input == event  # no Input/InputPath: the whole event


def test_a_near_miss_matches_no_rule() -> None:
    event = _event("image-created-cts.json")
    assert isinstance(event, dict)
    event["detail"]["trace_name"] = "deleteImage"
    with pytest.raises(NoMatchingTriggerError, match=r"ims-export\.cts"):
        execution_input_for(event, TEMPLATE)


def test_direct_input_passes_unchanged() -> None:
    event = _event("manual.json")
    assert execution_input_for(event, TEMPLATE) == ("direct input (StartExecution / schedule)", event)


def test_rule_input_path_and_constant_input(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        """Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Events:
        ByPath:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [a]}
            InputPath: $.detail
        Constant:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [b]}
            Input: '{"fixed": true}'
""",
        encoding="utf-8",
    )
    event = {"source": "a", "detail-type": "t", "detail": {"image_id": "i"}}
    assert execution_input_for(event, template) == ("rule ByPath", {"image_id": "i"})
    assert execution_input_for({**event, "source": "b"}, template) == ("rule Constant", {"fixed": True})
