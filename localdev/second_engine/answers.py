"""The Lambda answers of a recorded run, as a mock configuration (AWS Step Functions Local's format).

A recorded run is the project's own: the real handlers on the moto harness. Its histories say, state by
state, what every Lambda task answered (``TaskSucceeded`` of a ``lambda:invoke`` task, or
``LambdaFunctionSucceeded`` of a task whose Resource is the function), or how it failed. The iterations
of a Distributed Map leave no events in the parent's history, so their answers come from the harness's
record of invocations, in the order they were made.

Every other task (DynamoDB, EventBridge, SNS, S3, Step Functions) stays unmocked: each engine runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from typing import Any

Answer = dict[str, Any]  # {"Return": ...} or {"Throw": {"Error": ..., "Cause": ...}}

_ENTERED = "StateEntered"


def _state_of(event: Mapping[str, Any], by_id: Mapping[int, Mapping[str, Any]]) -> str:
    """The state an event belongs to: the nearest ``*StateEntered`` up its chain of previous events (map
    iterations interleave, but each iteration's events chain back to its own state)."""
    current: Mapping[str, Any] | None = event
    while current is not None:
        if current["type"].endswith(_ENTERED):
            name: str = current["stateEnteredEventDetails"]["name"]
            return name
        current = by_id.get(current.get("previousEventId", 0))
    raise ValueError(f"event {event['id']} ({event['type']}) belongs to no state")


def _answer_of(event: Mapping[str, Any]) -> Answer | None:
    kind = event["type"]
    if kind == "TaskSucceeded" and event["taskSucceededEventDetails"]["resourceType"] == "lambda":
        return {"Return": json.loads(event["taskSucceededEventDetails"]["output"])}
    if kind == "LambdaFunctionSucceeded":
        # The task reads the function's answer from an invocation's Payload, mocked or not.
        return {
            "Return": {
                "StatusCode": 200,
                "Payload": json.loads(event["lambdaFunctionSucceededEventDetails"]["output"]),
            }
        }
    failed = {
        "TaskFailed": "taskFailedEventDetails",
        "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    }
    if kind in failed:
        details = event[failed[kind]]
        if kind == "TaskFailed" and details.get("resourceType") != "lambda":
            return None
        return {"Throw": {"Error": details.get("error", ""), "Cause": details.get("cause", "")}}
    return None


def lambda_answers(history: Sequence[Mapping[str, Any]]) -> dict[str, list[Answer]]:
    """Every Lambda answer of one execution's history, by state, in the order given."""
    by_id = {event["id"]: event for event in history}
    answers: dict[str, list[Answer]] = {}
    for event in history:
        answer = _answer_of(event)
        if answer is not None:
            answers.setdefault(_state_of(event, by_id), []).append(answer)
    return answers


def invocation_answers(invocations: Iterable[Any], function: str) -> list[Answer]:
    """The answers of ``function`` (harness ``Invocation`` records), as a Resource-ARN task reads them."""
    answers: list[Answer] = []
    for invocation in invocations:
        if invocation.function != function:
            continue
        if invocation.error is None:
            answers.append({"Return": {"StatusCode": 200, "Payload": invocation.result}})
        else:
            cause = json.dumps({"errorType": invocation.error, "errorMessage": invocation.message or ""})
            answers.append({"Throw": {"Error": invocation.error, "Cause": cause}})
    return answers


def wait_fields(definitions: Iterable[Mapping[str, Any]]) -> set[str]:
    """The last names of every Wait state's ``SecondsPath`` in the definitions (``$.job.next_wait_seconds``
    gives ``next_wait_seconds``)."""
    return {
        state["SecondsPath"].rsplit(".", 1)[-1] for state in _states(definitions) if "SecondsPath" in state
    }


def _states(definitions: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for definition in definitions:
        for state in definition.get("States", {}).values():
            yield state
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                yield from _states([processor])
            for branch in state.get("Branches", []):
                yield from _states([branch])


def callback_timeout_fields(definitions: Iterable[Mapping[str, Any]]) -> set[str]:
    """The last names of the callback tasks' ``TimeoutSecondsPath`` (``$.job.next_wait_seconds`` gives
    ``next_wait_seconds``): the only waits a replay gives a length."""
    return {
        state["TimeoutSecondsPath"].rsplit(".", 1)[-1]
        for state in _states(definitions)
        if "TimeoutSecondsPath" in state
    }


def callback_tasks(definitions: Iterable[Mapping[str, Any]]) -> set[str]:
    """The names of the Task states whose timeout the state's input chooses (``TimeoutSecondsPath``):
    the callback tasks that wait for a token (``WaitForObject``)."""
    return {name for name, state in _named_states(definitions) if "TimeoutSecondsPath" in state}


def _named_states(definitions: Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for definition in definitions:
        for name, state in definition.get("States", {}).items():
            yield name, state
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                yield from _named_states([processor])
            for branch in state.get("Branches", []):
                yield from _named_states([branch])


def answers_before_callbacks(
    history: Sequence[Mapping[str, Any]], callbacks: Set[str]
) -> dict[str, set[int]]:
    """Per state, the numbers of its Lambda answers (as ``lambda_answers`` numbers them) after which the
    next wait was a callback task's (one of ``callbacks``), not a Wait state's."""
    by_id = {event["id"]: event for event in history}
    counts: dict[str, int] = {}
    pending: list[tuple[str, int]] = []
    found: dict[str, set[int]] = {}
    for event in history:
        if _answer_of(event) is not None:
            state = _state_of(event, by_id)
            pending.append((state, counts.get(state, 0)))
            counts[state] = counts.get(state, 0) + 1
        elif event["type"] == "WaitStateEntered":
            pending.clear()
        elif "stateEnteredEventDetails" in event and event["stateEnteredEventDetails"]["name"] in callbacks:
            for state, number in pending:
                found.setdefault(state, set()).add(number)
            pending.clear()
    return found


def without_waits(value: Any, fields: Set[str], seconds: int = 0) -> Any:
    """``value`` with every number under one of ``fields`` set to ``seconds`` (0): the second engine's
    Wait states really sleep, and the course of a run does not depend on how long a wait lasts. A
    callback task's wait is the exception: it times out at once if 0, so it is given a length (whether
    it times out or a token ends it first is what the course depends on)."""
    if isinstance(value, dict):
        return {
            key: seconds
            if key in fields and isinstance(item, int | float) and not isinstance(item, bool)
            else without_waits(item, fields, seconds)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [without_waits(item, fields, seconds) for item in value]
    return value


def mock_config(
    machine: str,
    cases: Mapping[str, Mapping[str, Sequence[Answer]]],
    *,
    zero: Set[str] = frozenset(),
    callback_fields: Set[str] = frozenset(),
    callback_seconds: int = 0,
    before_callbacks: Mapping[str, Mapping[str, Set[int]]] | None = None,
) -> dict[str, Any]:
    """A mock configuration for ``machine``: per test case, per state, its answers in order. The waits
    they choose (``zero`` fields) last 0 s; where the answer is followed by a callback task
    (``before_callbacks``: per case, per state, the answers' numbers), that task's timeout
    (``callback_fields``) lasts ``callback_seconds``, and every other wait of the answer (a settle after
    the callback) still 0 s."""
    test_cases: dict[str, dict[str, str]] = {}
    responses: dict[str, dict[str, Answer]] = {}
    for case, states in cases.items():
        test_cases[case] = {}
        for state, answers in states.items():
            if not answers:  # never called: left unmocked (an empty answer list is no configuration)
                continue
            response_name = f"{machine}.{case}.{state}"
            test_cases[case][state] = response_name
            callbacks = (before_callbacks or {}).get(case, {}).get(state, set())
            responses[response_name] = {}
            for number, answer in enumerate(answers):
                lasting = callback_fields if number in callbacks else frozenset()
                replayed = without_waits(without_waits(answer, zero - lasting), lasting, callback_seconds)
                responses[response_name][str(number)] = replayed
    return {"StateMachines": {machine: {"TestCases": test_cases}}, "MockedResponses": responses}
