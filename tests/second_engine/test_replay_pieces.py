"""The pieces of the parity runs that need no engine: reading Lambda answers out of a history, the mock
configuration, the comparison's normal form and the table of known differences."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from localdev.map_results import result_objects
from localdev.second_engine.answers import (
    invocation_answers,
    lambda_answers,
    mock_config,
    wait_fields,
    without_waits,
)
from localdev.second_engine.known_differences import KnownDifferences
from localdev.second_engine.parity import Difference, Normaliser, differences


def _entered(event_id: int, previous: int, name: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "previousEventId": previous,
        "type": "TaskStateEntered",
        "stateEnteredEventDetails": {"name": name},
    }


INVOKED = '{"Payload": {"phase": "x"}, "StatusCode": 200}'


def test_answers_are_read_by_state_even_where_map_iterations_interleave() -> None:
    history = [
        _entered(1, 0, "Start"),
        _entered(2, 1, "Iteration"),
        _entered(3, 1, "Iteration"),
        {"id": 4, "previousEventId": 2, "type": "LambdaFunctionSucceeded",
         "lambdaFunctionSucceededEventDetails": {"output": '{"n": 1}'}},
        {"id": 5, "previousEventId": 3, "type": "LambdaFunctionFailed",
         "lambdaFunctionFailedEventDetails": {"error": "Boom", "cause": "{}"}},
        {"id": 6, "previousEventId": 1, "type": "TaskSucceeded",
         "taskSucceededEventDetails": {"resourceType": "lambda", "output": INVOKED}},
        {"id": 7, "previousEventId": 1, "type": "TaskFailed",
         "taskFailedEventDetails": {"resourceType": "dynamodb", "error": "DynamoDB.X", "cause": ""}},
    ]  # fmt: skip

    answers = lambda_answers(history)

    assert answers == {
        "Iteration": [
            {"Return": {"StatusCode": 200, "Payload": {"n": 1}}},
            {"Throw": {"Error": "Boom", "Cause": "{}"}},
        ],
        "Start": [{"Return": {"Payload": {"phase": "x"}, "StatusCode": 200}}],
    }


def test_invocation_answers_keep_order_and_failures() -> None:
    invocations = [
        SimpleNamespace(function="F", result={"a": 1}, error=None, message=None),
        SimpleNamespace(function="G", result={}, error=None, message=None),
        SimpleNamespace(function="F", result=None, error="ValueError", message="bad"),
    ]

    answers = invocation_answers(invocations, "F")

    assert answers[0] == {"Return": {"StatusCode": 200, "Payload": {"a": 1}}}
    assert answers[1]["Throw"]["Error"] == "ValueError"
    assert json.loads(answers[1]["Throw"]["Cause"]) == {"errorType": "ValueError", "errorMessage": "bad"}


def test_waits_are_found_in_the_definitions_and_set_to_zero_in_answers() -> None:
    definition = {
        "States": {
            "W": {"Type": "Wait", "SecondsPath": "$.job.next_wait_seconds"},
            "M": {
                "Type": "Map",
                "ItemProcessor": {"States": {"V": {"Type": "Wait", "SecondsPath": "$.wait_seconds"}}},
            },
        }
    }
    fields = wait_fields([definition])

    assert fields == {"next_wait_seconds", "wait_seconds"}
    assert without_waits({"job": {"next_wait_seconds": 300, "polls": 3}, "wait_seconds": True}, fields) == {
        "job": {"next_wait_seconds": 0, "polls": 3},
        "wait_seconds": True,  # not a number of seconds: left alone
    }


def test_a_mock_configuration_numbers_answers_and_leaves_uncalled_states_unmocked() -> None:
    config = mock_config("M", {"run0": {"A": [{"Return": 1}, {"Return": 2}], "B": []}})

    assert config["StateMachines"] == {"M": {"TestCases": {"run0": {"A": "M.run0.A"}}}}
    assert config["MockedResponses"] == {"M.run0.A": {"0": {"Return": 1}, "1": {"Return": 2}}}


def test_engine_made_values_keep_their_shape_and_only_that() -> None:
    normaliser = Normaliser()

    assert normaliser.text("2026-12-07T00:41:33.872Z") == "<time.3Z>"
    assert normaliser.text("2026-12-07T00:41:33.872000+00:00") == "<time.6+00:00>"
    assert (
        normaliser.text("failed (Request ID: abc-123; Proxy: null)")
        == "failed (Request ID: <generated>; Proxy: null)"
    )
    assert normaliser.value({"MessageId": "m-1", "Body": '{"a": "2026-01-01T00:00:00Z"}'}) == {
        "MessageId": "<generated>",
        "Body": {"<json>": {"a": "<timeZ>"}},
    }


def test_differences_name_where_two_observations_part() -> None:
    found = differences("s", {"x": {"a": [1, 2], "b": 1}}, {"x": {"a": [1, 3]}})

    assert found == [Difference("s:x.a[1]", 2, 3), Difference("s:x.b", 1, "<absent>")]


TABLE = """
# Engines

## Known differences

| Where | moto harness | LocalStack | Why | Source |
|---|---|---|---|---|
| `*.steps.Claim[*].Attributes` | absent | `{}` | nobody reads it | the API reference |

## After
| `*.elsewhere` | a | b | c | d |
"""


def test_a_known_difference_matches_by_star_only() -> None:
    known = KnownDifferences.parse(TABLE)

    listed = Difference("exported:m/e.steps.Claim[3].Attributes", "<absent>", {})
    not_listed = Difference("exported:m/e.steps.Claim3].Attributes", "<absent>", {})
    assert known.unexplained([listed, not_listed]) == [not_listed]
    assert len(known.rows) == 1  # rows under a later heading are not known differences


def test_a_known_difference_without_reason_or_source_is_refused() -> None:
    with pytest.raises(ValueError, match="needs moto, LocalStack, reason and source"):
        KnownDifferences.parse("## Known differences\n| `*.x` | a | b |  |  |\n")


def test_the_documented_table_reads() -> None:
    assert KnownDifferences.load().rows


def test_result_files_are_listed_in_the_manifest_as_aws_writes_them() -> None:
    arn = "arn:aws:states:eu-central-1:123456789012:mapRun:Fleet/label:run-id"

    objects = dict(result_objects("bucket", "results", arn, [{"status": "EXPORTED"}]))

    manifest = json.loads(objects["results/run-id/manifest.json"])
    [listed] = manifest["ResultFiles"]["SUCCEEDED"]
    assert listed["Key"] == "results/run-id/SUCCEEDED_0.json"
    [record] = json.loads(objects[listed["Key"]])
    assert (record["Status"], json.loads(record["Output"])) == ("SUCCEEDED", {"status": "EXPORTED"})
    assert listed["Size"] == len(objects[listed["Key"]])
