"""The error names the state machines match are names the code raises, and every transient error is
retried where it can occur."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ims_export import errors

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = sorted((ROOT / "statemachine").glob("*.asl.json"))
OUR_ERRORS = {
    name for name, value in vars(errors).items() if inspect.isclass(value) and issubclass(value, Exception)
}
# Names the code raises outside ims_export.errors (none now: Powertools' idempotency utility only
# guards the token refresh, whose errors the steps translate).
FOREIGN: set[str] = set()


def _matchers(states: dict[str, Any]) -> Iterator[tuple[str, str, list[str]]]:
    for name, state in states.items():
        for kind in ("Retry", "Catch"):
            for rule in state.get(kind, []):
                yield name, kind, rule["ErrorEquals"]
        for branch in state.get("Branches", []):
            yield from _matchers(branch["States"])
        if "ItemProcessor" in state:
            yield from _matchers(state["ItemProcessor"]["States"])
        if "Iterator" in state:
            yield from _matchers(state["Iterator"]["States"])


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda path: path.name)
def test_every_matched_error_name_is_raised_by_something(path: Path) -> None:
    definition = json.loads(path.read_text(encoding="utf-8"))
    unknown = [
        (state, kind, name)
        for state, kind, names in _matchers(definition["States"])
        for name in names
        if not name.startswith(("States.", "Lambda.", "StepFunctions.", "SFN.", "DynamoDB.", "DynamoDb."))
        and name not in OUR_ERRORS | FOREIGN
    ]
    assert unknown == []


def test_base_classes_are_never_matched_by_name() -> None:
    # Lambda reports the concrete class of an exception, so a base class in ErrorEquals matches nothing.
    bases = {"ImsExportError", "TransientError", "ImsRequestError", "ObsRequestError"}
    for path in DEFINITIONS:
        definition = json.loads(path.read_text(encoding="utf-8"))
        for state, kind, names in _matchers(definition["States"]):
            assert not bases & set(names), (path.name, state, kind)


def test_the_check_and_start_steps_retry_every_transient_error_they_can_raise() -> None:
    definition = json.loads((ROOT / "statemachine" / "export.asl.json").read_text(encoding="utf-8"))
    transient = {
        name
        for name in OUR_ERRORS
        if issubclass(getattr(errors, name), errors.TransientError) and name != "TransientError"
    }
    # The check step counts failed job queries itself; what reaches the state machine from it is
    # the token's transient errors. The start step may meet them all but a malformed job answer.
    for state, expected in {
        "StartExport": transient - {"MalformedAnswerError"},
        "CheckExport": transient
        - {"MalformedAnswerError", "IdempotencyStoreError", "SmnCertificateUnavailableError"},
    }.items():
        retried = {name for rule in definition["States"][state]["Retry"] for name in rule["ErrorEquals"]}
        assert expected <= retried, (state, sorted(expected - retried))


def _states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch["States"])
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _states(state[key]["States"])


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda path: path.name)
def test_each_error_name_is_in_one_retrier_per_state(path: Path) -> None:
    # A second retrier for a name never applies (the first match wins): it only misleads.
    definition = json.loads(path.read_text(encoding="utf-8"))
    repeated = []
    for name, state in _states(definition["States"]):
        retried = [error for rule in state.get("Retry", []) for error in rule["ErrorEquals"]]
        repeated += [(name, error) for error in sorted(set(retried)) if retried.count(error) > 1]
    assert repeated == []
