"""The moto harness behaves as AWS does where moto does not (docs/engines.md, "Where the moto harness
imitates AWS"): each patch shown on a definition small enough to see what it proves."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest

from localdev.stepfunctions import LocalWorkflow
from tests.second_engine.scenarios import small_pages

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BUCKET = "fidelity-bucket"


def _definition(tmp_path: Path, states: dict[str, Any], start: str) -> Path:
    path = tmp_path / "definition.asl.json"
    path.write_text(json.dumps({"StartAt": start, "States": states}), encoding="utf-8")
    return path


def test_the_execution_start_time_reaches_a_function_as_aws_writes_it(tmp_path: Path) -> None:
    seen: list[Any] = []

    def echo(event: Any, _context: Any) -> dict[str, Any]:
        seen.append(event)
        return {}

    definition = _definition(
        tmp_path,
        {
            "Call": {
                "Type": "Task",
                "Resource": "${EchoArn}",
                "Parameters": {"started.$": "$$.Execution.StartTime"},
                "End": True,
            }
        },
        "Call",
    )
    with LocalWorkflow(definition, handlers={"Echo": echo}) as workflow:
        assert workflow.wait_for(workflow.start_execution({})).status == "SUCCEEDED"

    [event] = seen
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", event["started"]), event


@pytest.mark.parametrize(
    ("body", "stored"),
    [
        ({"Body": "text"}, '"text"'),
        ({"Body.$": "$.items"}, '[{"image_id":"a"},{"image_id":"b"}]'),
        ({"Body.$": "States.JsonToString($.items)"}, json.dumps('[{"image_id":"a"},{"image_id":"b"}]')),
    ],
    ids=["string", "array", "array-as-a-json-string"],
)
def test_put_object_stores_a_body_as_aws_does(tmp_path: Path, body: dict[str, str], stored: str) -> None:
    definition = _definition(
        tmp_path,
        {
            "Write": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {"Bucket": BUCKET, "Key": "page.json", **body},
                "End": True,
            }
        },
        "Write",
    )
    with LocalWorkflow(definition, buckets=[BUCKET]) as workflow:
        result = workflow.wait_for(
            workflow.start_execution({"items": [{"image_id": "a"}, {"image_id": "b"}]})
        )
        written = boto3.client("s3").get_object(Bucket=BUCKET, Key="page.json")["Body"].read().decode()

    assert result.status == "SUCCEEDED", result.cause
    assert written == stored


@pytest.mark.parametrize("field", ["Parameters", "ResultSelector"])
def test_a_missing_path_is_a_runtime_error_that_states_all_does_not_catch(tmp_path: Path, field: str) -> None:
    # AWS ends the execution with States.Runtime, Catch or not; moto alone calls it a task failure.
    definition = _definition(
        tmp_path,
        {
            "Call": {
                "Type": "Task",
                "Resource": "${EchoArn}",
                field: {"missing.$": "$.not_there"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
        "Call",
    )
    with LocalWorkflow(definition, handlers={"Echo": lambda _event, _context: {}}) as workflow:
        result = workflow.wait_for(workflow.start_execution({}))
        retried = [wait for wait in workflow.waits if wait.kind == "retry"]

    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "$.not_there" in (result.cause or "")
    assert retried == []


def test_a_fleet_page_written_as_a_json_string_fails_at_the_item_reader_as_on_aws(tmp_path: Path) -> None:
    """The fleet definition as it was: WritePage stored States.JsonToString of the items, a JSON string
    on AWS, which the Distributed Map's ItemReader cannot map over."""
    from localdev.emulator import DEFAULT_BUCKET, Emulator, ManualClock
    from localdev.runner.execution import run_workflow
    from localdev.runner.targets import emulator_target

    fleet = json.loads((ROOT / "statemachine" / "fleet.asl.json").read_text(encoding="utf-8"))
    fleet["States"]["WritePage"]["Parameters"]["Body.$"] = "States.JsonToString($.plan.items)"
    old = tmp_path / "fleet.asl.json"
    old.write_text(json.dumps(fleet), encoding="utf-8")
    # The template with that definition; everything else is the project's own.
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    text = text.replace("DefinitionUri: statemachine/fleet.asl.json", f"DefinitionUri: {old}")
    for folder in ("statemachine/", "functions/", "layers/"):
        text = text.replace(f"Uri: {folder}", f"Uri: {ROOT}/{folder}")
    template = tmp_path / "template.yaml"
    template.write_text(text, encoding="utf-8")

    clock = ManualClock()
    # The run sets the deployment's environment (IAM_ENDPOINT, ...) as the functions see it: undone after.
    with small_pages(), Emulator(clock=clock) as emulator, mock.patch.dict(os.environ):
        emulator.control.generate_images(1)
        result = run_workflow(
            {"trigger": "fleet", "name_prefix": "fleet-"},
            emulator_target(emulator, clock),
            template=template,
            overrides={"ExportBucket": DEFAULT_BUCKET},
            stream=open(tmp_path / "progress.txt", "w"),  # noqa: SIM115 - closed with the process
        )

    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
