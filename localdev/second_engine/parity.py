"""A recorded run replayed on both engines with the same Lambda answers, and what each engine did.

``replay(world, recording)`` runs a recording's executions in a deployment (``world``): the moto harness
(``LocalWorkflow`` with the mock configuration) or LocalStack (``LocalStackWorld``). Only the Lambda
tasks are answered from the recording; everything the state machines do with their own service
integrations is each engine's own. ``observe`` then reads what the engines can be compared on, in a form
where values that are each engine's own to make (identifiers, times) keep their shape but not their value.
``differences`` lists where two observations part.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from localdev.aws_world import AwsWorld
from localdev.second_engine.answers import callback_timeout_fields, mock_config, wait_fields
from localdev.second_engine.callbacks import CallbackHold, StoredTokens, token_attributes
from localdev.second_engine.recording import Recording, entered_states

CHILD_CASE = "child"
REPLAYED_SUFFIX = "-replayed"
END_TIMEOUT_SECONDS = 600.0  # guards against a hang, no budget


def harness_case(index: int) -> str:
    return f"run{index}"


def continuation_case(index: int) -> str:
    return f"continued{index}"


def mock_configuration(recording: Recording) -> dict[str, Any]:
    """The recording's Lambda answers as test cases: one per run the harness started, one per execution a
    run continued in, and one for the children of a fleet (every child answers as the first did)."""
    zero = wait_fields(recording.definitions())
    main_cases: dict[str, dict[str, Any]] = {}
    before_callbacks: dict[str, dict[str, set[int]]] = {}
    for index, run in enumerate(recording.harness_runs()):
        main_cases[harness_case(index)] = {
            **run.answers,
            **(recording.distributed_answers if index == 0 else {}),
        }
        before_callbacks[harness_case(index)] = run.before_callbacks
    for index, continued in enumerate(recording.started_by_definitions(recording.main)):
        main_cases[continuation_case(index)] = continued.answers
        before_callbacks[continuation_case(index)] = continued.before_callbacks
    waits: dict[str, Any] = {
        "zero": zero,
        "callback_fields": callback_timeout_fields(recording.definitions()),
        "callback_seconds": recording.scenario.callback_wait_seconds,
    }
    config = mock_config(recording.main, main_cases, before_callbacks=before_callbacks, **waits)
    for machine in recording.state_machines:
        children = recording.started_by_definitions(machine)
        if children:
            child_callbacks = {CHILD_CASE: children[0].before_callbacks}
            child = mock_config(
                machine, {CHILD_CASE: children[0].answers}, before_callbacks=child_callbacks, **waits
            )
            config["StateMachines"].update(child["StateMachines"])
            config["MockedResponses"].update(child["MockedResponses"])
    if recording.scenario.edit_answers is not None:
        recording.scenario.edit_answers(config)
    return config


def world_options(recording: Recording) -> dict[str, Any]:
    """The keyword arguments that build the recording's deployment as an ``AwsWorld``."""
    return {
        "definition_path": recording.definition_path,
        "substitutions": recording.substitutions,
        "event_buses": recording.event_buses,
        "topics": recording.topics,
        "buckets": recording.buckets,
        "tables": recording.tables,
        "name": recording.main,
        "state_machines": recording.state_machines,
        "machine_test_cases": {machine: CHILD_CASE for machine in recording.state_machines},
    }


def replay(world: AwsWorld, recording: Recording, hold: CallbackHold | None = None) -> None:
    """Run the recording's executions in ``world`` (its resources created, the mock configuration known
    to its engine), one after the other, each to its end. A run the harness started while another ran
    (an OBS notification's, during the export's wait) is started once the waiting run's task token is
    stored (``callbacks``); the moto harness's callback waits are held open by ``hold``."""
    dynamodb = world.client("dynamodb")
    for table, items in recording.table_items.items():
        for item in items:
            dynamodb.put_item(TableName=table, Item=item)
    runs = recording.harness_runs()
    during = {run.name: recording.started_during(run) for run in runs}
    started_later = {other.name for others in during.values() for other in others}
    tokens = StoredTokens(world, recording.tables, token_attributes(recording.definitions()))
    hold = hold or CallbackHold()  # LocalStack needs none: it waits for the token itself
    try:
        for index, run in enumerate(runs):
            if run.name in started_later:
                continue
            hold.expect(len(during[run.name]))
            arn = world.start_execution(run.input, name=run.name, test_case=harness_case(index))
            for other in during[run.name]:
                tokens.wait_for_new(world, arn)
                case = harness_case(runs.index(other))
                world.wait_for(world.start_execution(other.input, name=other.name, test_case=case))
                hold.ended()
            world.wait_for(arn)
    finally:
        hold.release()
    _wait_for_all(world)
    # An execution a run continued in was started by the definition, without answers: it is compared on
    # its name and input only. Its course is replayed here, with its recorded answers.
    for index, continued in enumerate(recording.started_by_definitions(recording.main)):
        name = continued.name + REPLAYED_SUFFIX
        world.wait_for(world.start_execution(continued.input, name=name, test_case=continuation_case(index)))


def _wait_for_all(world: AwsWorld) -> None:
    deadline = time.monotonic() + END_TIMEOUT_SECONDS
    while world.running_executions():
        if time.monotonic() > deadline:
            raise TimeoutError(f"executions still running after {END_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.05)


# --- what is compared --------------------------------------------------------------------------------

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d{2}:?\d{2})?")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_REQUEST_ID = re.compile(r"(Request ID: )[^;)]+")
_MAP_RUN = re.compile(rf"mapRun:[^/\"]+/(?P<run>{_UUID}):(?P<label>{_UUID})")
# Values each service makes up for itself: compared on being there, not on what they are.
GENERATED_KEYS = frozenset(
    {
        "EventId",
        "MessageId",
        "RequestId",
        "ETag",
        "VersionId",
        "HostId",
        "LastModified",
        "ServerSideEncryption",
        # A callback task's token: as the Step Functions API names it, and as the export state machine
        # stores it for a notification to find (WaitForObject's item).
        "TaskToken",
        "task_token",
    }
)


def _time_shape(match: re.Match[str]) -> str:
    fraction = match.group("fraction")
    return f"<time{'.' + str(len(fraction) - 1) if fraction else ''}{match.group('zone') or ''}>"


class Normaliser:
    """Engine-made values into their shapes: times keep their precision and zone, the identifiers of map
    runs their place (``<map-run-1>``), generated ids are ``<generated>``."""

    def __init__(self) -> None:
        self._map_runs: dict[str, str] = {}

    def text(self, value: str) -> str:
        for match in _MAP_RUN.finditer(value):
            for uuid in match.group("run", "label"):
                self._map_runs.setdefault(uuid, f"<map-run-{len(self._map_runs) + 1}>")
        for uuid, placeholder in self._map_runs.items():
            value = value.replace(uuid, placeholder)
        return _REQUEST_ID.sub(r"\1<generated>", _TIME.sub(_time_shape, value))

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: "<generated>" if key in GENERATED_KEYS else self.value(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, str):
            decoded = _json_or_none(value)
            if isinstance(decoded, dict | list):  # JSON inside a string (a Cause, an Input, a Body)
                return {"<json>": self.value(decoded)}
            return self.text(value)
        return value


def _json_or_none(text: str) -> Any:
    if not text or text[0] not in "[{":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Difference:
    where: str  # "<scenario>:<execution or resource>:<what>"
    moto: Any
    localstack: Any

    def describe(self) -> str:
        return f"{self.where}\n    moto:       {_short(self.moto)}\n    LocalStack: {_short(self.localstack)}"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 600 else text[:600] + " ..."


_DETAILS = (
    "stateEnteredEventDetails",
    "stateExitedEventDetails",
    "taskScheduledEventDetails",
    "lambdaFunctionScheduledEventDetails",
    "taskFailedEventDetails",
    "lambdaFunctionFailedEventDetails",
    "taskSucceededEventDetails",
)


def _steps(history: list[dict[str, Any]], normaliser: Normaliser, inner: set[str]) -> dict[str, list[Any]]:
    """Per state, what went in and out of it and what its task sent (parameters) and got (a non-Lambda
    task's result, or a failure), in order; map iterations interleave, so the list of a state inside a
    Map (``inner``) is sorted. Any other state's list keeps the order it ran in: a sort would be decided
    by the fields the engines write differently (the known differences), not by what ran."""
    by_id = {event["id"]: event for event in history}
    steps: dict[str, list[Any]] = {}
    for event in history:
        found = [key for key in _DETAILS if key in event]
        if not found:
            continue
        details = dict(event[found[0]])
        if found[0] == "taskSucceededEventDetails" and details.get("resourceType") == "lambda":
            continue  # the recorded answer itself
        state = _owning_state(event, by_id)
        record = {
            key: details[key] for key in ("input", "output", "parameters", "error", "cause") if key in details
        }
        steps.setdefault(state, []).append({"event": event["type"], **record})
    return {
        state: sorted(records, key=lambda r: json.dumps(r, sort_keys=True)) if state in inner else records
        for state, records in steps.items()
    }


def iteration_states(definitions: list[dict[str, Any]]) -> set[str]:
    """The names of the states inside the definitions' Map states."""
    names: set[str] = set()
    for definition in definitions:
        for state in definition.get("States", {}).values():
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                names |= set(processor.get("States", {})) | iteration_states([processor])
    return names


def _owning_state(event: Mapping[str, Any], by_id: Mapping[int, Mapping[str, Any]]) -> str:
    current: Mapping[str, Any] | None = event
    while current is not None:
        if "stateEnteredEventDetails" in current:
            name: str = current["stateEnteredEventDetails"]["name"]
            return name
        current = by_id.get(current.get("previousEventId", 0))
    return "<execution>"


def observe(world: AwsWorld, recording: Recording) -> dict[str, Any]:
    """What the replay left behind: every execution (its ending, the path of states, each state's
    records), the published events and messages, the objects in the buckets and the table's items."""
    normaliser = Normaliser()
    # Map runs are numbered in the order the main executions' histories name them (a page after the one
    # before it), never in the order a listing, a key sort or a child execution happens to show them.
    for listed in sorted(world.executions(None), key=lambda execution: str(execution.get("startDate"))):
        for event in world.history(listed["executionArn"]):
            normaliser.text(json.dumps(event, default=str))
    observed: dict[str, Any] = {}
    inner = iteration_states(recording.definitions())
    continued_names = {execution.name for execution in recording.started_by_definitions(recording.main)}
    for machine in (recording.main, *recording.state_machines):
        for listed in world.executions(None if machine == recording.main else machine):
            arn = listed["executionArn"]
            description = world.sfn.describe_execution(executionArn=arn)
            key = f"{machine}/{description['name']}"
            if machine == recording.main and description["name"] in continued_names:
                # Started by the definition, with no answers on either engine: only how it was started counts.
                observed[key] = {"input": json.loads(description["input"])}
                continue
            history = world.history(arn)
            observed[key] = {
                "status": description["status"],
                "error": description.get("error"),
                "cause": description.get("cause"),
                "input": json.loads(description["input"]),
                "output": json.loads(description["output"]) if description.get("output") else None,
                # Map iterations run side by side: their states are in the records, not in the path.
                "path": [state for state in entered_states(history) if state not in inner],
                "steps": _steps(history, normaliser, inner),
            }
    unanswered = {
        world.machine_arn(recording.main).replace(":stateMachine:", ":execution:") + f":{name}"
        for name in continued_names
    }
    for bus in recording.event_buses:
        events = [
            {"detail-type": e.get("detail-type"), "source": e.get("source"), "detail": e.get("detail")}
            for e in world.published_events(bus)
        ]
        kept = (normaliser.value(e) for e in events if _execution_of(e["detail"]) not in unanswered)
        observed[f"events/{bus}"] = _sorted(kept)
    for topic in recording.topics:
        messages = world.topic_messages(topic)
        observed[f"messages/{topic}"] = _sorted(
            normaliser.value(m) for m in messages if _execution_of(m) not in unanswered
        )
    s3 = world.client("s3")
    for bucket in recording.buckets:
        for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read().decode("utf-8", "replace")
            observed[f"s3/{bucket}/{listed['Key']}"] = body
    dynamodb = world.client("dynamodb")
    for table in recording.tables:
        items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
        observed[f"dynamodb/{table}"] = _sorted(normaliser.value(item) for item in items)
    return {normaliser.text(key): normaliser.value(value) for key, value in observed.items()}


def _execution_of(outcome: Any) -> Any:
    return outcome.get("execution") if isinstance(outcome, dict) else None


def _sorted(values: Iterable[Any]) -> list[Any]:
    """In an order neither engine chooses (values already normalised, so engine-made ones do not count)."""
    return sorted(values, key=lambda value: json.dumps(value, sort_keys=True))


def differences(scenario: str, moto: Mapping[str, Any], localstack: Mapping[str, Any]) -> list[Difference]:
    found: list[Difference] = []
    for key in sorted(set(moto) | set(localstack)):
        found.extend(_diff(f"{scenario}:{key}", moto.get(key, "<absent>"), localstack.get(key, "<absent>")))
    return found


def _diff(where: str, moto: Any, localstack: Any) -> Iterator[Difference]:
    if isinstance(moto, dict) and isinstance(localstack, dict):
        for key in sorted(set(moto) | set(localstack)):
            yield from _diff(f"{where}.{key}", moto.get(key, "<absent>"), localstack.get(key, "<absent>"))
    elif isinstance(moto, list) and isinstance(localstack, list) and len(moto) == len(localstack):
        for index, (left, right) in enumerate(zip(moto, localstack, strict=True)):
            yield from _diff(f"{where}[{index}]", left, right)
    elif moto != localstack:
        yield Difference(where, moto, localstack)
