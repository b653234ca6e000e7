"""The values the export state machine routes on are the steps' enums, and every member is routed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ims_export.domain.jobs import JobStatus
from ims_export.steps.contract import Phase, Route
from ims_export.steps.outcome import ENDINGS, FAIL_STATES

DEFINITION = json.loads(
    (Path(__file__).resolve().parents[2] / "statemachine" / "export.asl.json").read_text(encoding="utf-8")
)
STATES: dict[str, Any] = DEFINITION["States"]


def _compared(choice: dict[str, Any], variable: str) -> list[tuple[str, str | None]]:
    """(value, Next) of every StringEquals on ``variable`` in a choice rule, nested ones included."""
    found = []
    if choice.get("Variable") == variable and "StringEquals" in choice:
        found.append((choice["StringEquals"], choice.get("Next")))
    for nested in choice.get("Or", []) + choice.get("And", []) + ([choice["Not"]] if "Not" in choice else []):
        found += [(value, choice.get("Next")) for value, _ in _compared(nested, variable)]
    return found


def _routing(state: str, variable: str) -> dict[str, str | None]:
    return {
        value: next_state
        for rule in STATES[state]["Choices"]
        for value, next_state in _compared(rule, variable)
    }


def test_every_phase_the_start_step_answers_is_routed_and_no_other() -> None:
    routed = _routing("IsImageReady", "$.phase")
    # Exporting is the Default: the poll loop.
    assert set(routed) == {phase.value for phase in Phase} - {Phase.EXPORTING}
    assert STATES["IsImageReady"]["Default"] == "WaitBeforePoll"


def test_every_route_ends_in_the_state_of_its_name_and_every_such_state_is_a_route() -> None:
    routed = _routing("RouteOutcome", "$.route")
    assert set(routed) == {route.value for route in Route} - {Route.EXPORT_FAILED}
    assert all(value == next_state for value, next_state in routed.items())
    assert STATES["RouteOutcome"]["Default"] == Route.EXPORT_FAILED
    assert {STATES[route]["Type"] for route in Route} <= {"Succeed", "Fail"}


def test_the_outcome_step_names_every_route_it_can_choose_from_the_enum() -> None:
    chosen = {*FAIL_STATES.values(), *ENDINGS.values(), Route.WORKFLOW_FAILED, Route.EXPORT_FAILED}
    assert chosen == set(Route)


def test_the_job_statuses_evaluate_job_compares_are_imss() -> None:
    compared = {
        value for rule in STATES["EvaluateJob"]["Choices"] for value, _ in _compared(rule, "$.job.status")
    }
    assert compared == {status.value for status in JobStatus}
