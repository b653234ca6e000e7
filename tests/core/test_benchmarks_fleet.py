"""The fleet benchmark: event counts walked from the definition, worst-case payloads within the limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchmarks import fleet as fleet_bench


def _definition(**states: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def test_state_events_by_kind() -> None:
    assert fleet_bench.state_events({"Type": "Task", "Resource": "${FnArn}"}) == 5
    assert (
        fleet_bench.state_events(
            {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2"}
        )
        == 6
    )
    assert fleet_bench.state_events({"Type": "Choice"}) == 2
    assert fleet_bench.state_events({"Type": "Map"}) == fleet_bench.MAP_EVENTS


def test_walk_follows_next_and_choice_defaults_and_refuses_loops() -> None:
    states = {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Next": "A"}], "Default": "C"},
        "C": {"Type": "Succeed"},
    }
    assert fleet_bench.walk(states, "A") == ["A", "B", "C"]
    with pytest.raises(ValueError, match="loops"):
        fleet_bench.walk(states, "A", {"B": "A"})


def test_fleet_budget_is_linear_in_images_and_fits_1000() -> None:
    definition = json.loads(fleet_bench.DEFINITION.read_text(encoding="utf-8"))
    budget = fleet_bench.event_budget(definition)
    assert budget.per_image == 17  # iteration 2, child start 6, result 5, choice 2, succeed 2
    assert budget.total(1000) - budget.total(999) == budget.per_image
    assert budget.total(1000) < fleet_bench.MAX_HISTORY_EVENTS
    without_topic = fleet_bench.event_budget(definition, topic=False)
    assert budget.fixed - without_topic.fixed == 5  # the SNS publish task


def test_worst_case_payloads_fit_and_the_report_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    payloads = fleet_bench.worst_payloads(1000)
    assert max(vars(payloads).values()) < fleet_bench.MAX_PAYLOAD_BYTES
    assert payloads.after_map > payloads.output > payloads.event_detail
    assert fleet_bench.main() == 0
    printed = capsys.readouterr().out
    assert "history events, 1,000 images" in printed
    assert "within Step Functions limits" in printed
