"""A run of the project's own, recorded for a replay on both engines.

``record(scenario)`` runs a scenario as ``make run`` does (``localdev.runner.execution.run_workflow``:
the template's deployment, the real handlers, the built-in emulator, the moto harness), then keeps what
a replay needs: the deployment's resources, the table's items before the first run, every execution's
input, name, path and ending, and every Lambda answer, by execution and state.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from localdev.aws_world import AwsWorld
from localdev.runner.layout import NOTIFICATION_EXECUTION_PREFIX
from localdev.second_engine.answers import (
    Answer,
    answers_before_callbacks,
    callback_tasks,
    invocation_answers,
    lambda_answers,
)

# The names the runner gives the executions it starts: its own, and those it starts as the SMN endpoint
# for an OBS notification (during an export's wait).
HARNESS_PREFIXES = ("local-", NOTIFICATION_EXECUTION_PREFIX)


@dataclass(frozen=True)
class Scenario:
    """One course through a definition: the first event goes through the runner, the further ones are
    started after it in the same deployment (a duplicate, say)."""

    name: str
    event: Any
    further_events: Sequence[Any] = ()
    via: str = "direct"
    settings: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)  # template parameters
    prepare_emulator: Callable[[Any], object] | None = None  # gets the emulator's control
    seed_table: Callable[[Any, str], object] | None = None  # gets a DynamoDB client and the table name
    edit_answers: Callable[[dict[str, Any]], object] | None = None  # changes the mock configuration in place
    # Held open while the run is recorded; what it yields is given to ``event`` where that is a callable.
    context: Callable[[], AbstractContextManager[Any]] | None = None
    # With WAKE_ON_OBS_NOTIFICATION: whether the emulator's OBS notifications are delivered or lost.
    obs_notifications: str = "delivered"
    # In the replay, the waits the Lambda answers choose last 0 s, but a callback task's (its
    # TimeoutSecondsPath) this long: a notification must find it still waiting, or it is to time out soon.
    callback_wait_seconds: int = 60


@dataclass(frozen=True)
class RecordedExecution:
    machine: str
    name: str
    input: Any
    status: str
    error: str | None
    output: Any
    path: list[str]
    answers: dict[str, list[Answer]]
    started: datetime
    stopped: datetime | None
    before_callbacks: dict[str, set[int]]  # per state, the answers a callback task's wait followed

    @property
    def started_by_harness(self) -> bool:
        return self.name.startswith(HARNESS_PREFIXES)


@dataclass
class Recording:
    scenario: Scenario
    main: str
    definition_path: Path
    substitutions: dict[str, str]
    state_machines: dict[str, tuple[Path, dict[str, str]]]
    functions: list[str]
    event_buses: list[str]
    topics: list[str]
    buckets: list[str]
    tables: list[str]
    table_items: dict[str, list[dict[str, Any]]]
    executions: list[RecordedExecution]
    distributed_answers: dict[str, list[Answer]]  # the main machine's Distributed Map iteration states

    def harness_runs(self) -> list[RecordedExecution]:
        return [
            execution
            for execution in self.executions
            if execution.started_by_harness and execution.machine == self.main
        ]

    def started_during(self, run: RecordedExecution) -> list[RecordedExecution]:
        """The harness's runs started while ``run`` ran (an OBS notification's, during the export's wait)."""
        return [
            other
            for other in self.harness_runs()
            if other is not run
            and run.started < other.started
            and (run.stopped is None or other.started < run.stopped)
        ]

    def started_by_definitions(self, machine: str) -> list[RecordedExecution]:
        return [
            execution
            for execution in self.executions
            if execution.machine == machine and not execution.started_by_harness
        ]

    def definitions(self) -> list[dict[str, Any]]:
        paths = [self.definition_path, *(path for path, _ in self.state_machines.values())]
        return [json.loads(path.read_text(encoding="utf-8")) for path in paths]


def entered_states(history: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event
    ]


def distributed_lambda_states(
    definition: Mapping[str, Any], substitutions: Mapping[str, str]
) -> dict[str, str]:
    """The Lambda task states inside the definition's Distributed Maps, with the function each calls."""
    found: dict[str, str] = {}
    for state in definition.get("States", {}).values():
        processor = state.get("ItemProcessor") or {}
        if processor.get("ProcessorConfig", {}).get("Mode") != "DISTRIBUTED":
            continue
        for name, inner in processor.get("States", {}).items():
            resource = inner.get("Resource", "")
            if resource.startswith("${") and resource.endswith("FunctionArn}"):
                found[name] = resource[2 : -len("Arn}")]
    return found


def _recorded(world: AwsWorld, machine: str) -> list[RecordedExecution]:
    paths = [world.definition_path, *(path for path, _ in world.state_machines.values())]
    callbacks = callback_tasks(json.loads(path.read_text(encoding="utf-8")) for path in paths)
    recorded = []
    for listed in sorted(
        world.executions(None if machine == world.name else machine), key=lambda e: e["startDate"]
    ):
        description = world.sfn.describe_execution(executionArn=listed["executionArn"])
        history = world.history(listed["executionArn"])
        output = description.get("output")
        recorded.append(
            RecordedExecution(
                machine=machine,
                name=description["name"],
                input=json.loads(description["input"]),
                status=description["status"],
                error=description.get("error"),
                output=json.loads(output) if output else None,
                path=entered_states(history),
                answers=lambda_answers(history),
                started=description["startDate"],
                stopped=description.get("stopDate"),
                before_callbacks=answers_before_callbacks(history, callbacks),
            )
        )
    return recorded


def record(scenario: Scenario, timeout: float = 600.0) -> Recording:
    """Run ``scenario`` on the emulator as ``make run`` does and keep what a replay needs."""
    from localdev.emulator import Emulator, ManualClock
    from localdev.runner.execution import run_workflow
    from localdev.runner.targets import emulator_target

    kept: dict[str, Any] = {}

    def before_start(deployment: Any) -> None:
        import boto3

        table = deployment.environment["IDEMPOTENCY_TABLE"]
        dynamodb = boto3.client("dynamodb")
        if scenario.seed_table is not None:
            scenario.seed_table(dynamodb, table)
        kept["tables"] = [table]
        kept["table_items"] = {table: dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]}

    def observe(workflow: Any, result: Any) -> None:
        for event in scenario.further_events:
            workflow.wait_for(workflow.start_execution(event))
        kept["world"] = workflow
        executions = _recorded(workflow, workflow.name)
        for machine in workflow.state_machines:
            executions += _recorded(workflow, machine)
        kept["executions"] = executions
        definition = json.loads(workflow.definition_path.read_text(encoding="utf-8"))
        kept["distributed"] = {
            state: invocation_answers(workflow.invocations, function)
            for state, function in distributed_lambda_states(definition, workflow.substitutions).items()
        }

    clock = ManualClock(start=time.time())
    context = scenario.context() if scenario.context is not None else nullcontext()
    with context as given, Emulator(clock=clock) as emulator:
        if scenario.prepare_emulator is not None:
            scenario.prepare_emulator(emulator.control)
        run_workflow(
            scenario.event(given) if callable(scenario.event) else scenario.event,
            emulator_target(emulator, clock),
            overrides=scenario.overrides,
            settings=scenario.settings,
            stream=io.StringIO(),
            timeout=timeout,
            before_start=before_start,
            observe=observe,
            via=scenario.via,
            obs_notifications=scenario.obs_notifications,
        )
    world = kept["world"]
    return Recording(
        scenario=scenario,
        main=world.name,
        definition_path=world.definition_path,
        substitutions=dict(world.substitutions),
        state_machines=dict(world.state_machines),
        functions=list(world.functions),
        event_buses=list(world.event_buses),
        topics=list(world.topics),
        buckets=list(world.buckets),
        tables=kept["tables"],
        table_items=kept["table_items"],
        executions=kept["executions"],
        distributed_answers=kept["distributed"],
    )
