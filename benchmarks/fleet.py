"""Fleet benchmark: history events and payload sizes of a 1,000-image fleet, against Step Functions' limits.

Events are counted by walking ``statemachine/fleet.asl.json`` with the events Step Functions records
for each kind of state (a Lambda task: entered, scheduled, started, succeeded, exited; a ``.sync``
task also "submitted"; a Pass, Choice, Wait or Succeed: entered and exited; a Map: entered, started,
succeeded, exited, plus started and succeeded per iteration). Child executions keep their own history,
so the fleet's grows by one Map iteration per image. ``tests/fleet`` checks the count against the
history moto records for a real 50-image run.

Payloads are the largest JSON documents of a run built with the real models, in the worst case: every
image failed with the longest error name and reason, or the most skipped images listed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks._tables import table
from ims_export.fleet import selection as fleet
from ims_export.fleet import summary as fleet_summary

DEFINITION = Path(__file__).resolve().parents[1] / "statemachine" / "fleet.asl.json"
MAX_HISTORY_EVENTS = 25_000
MAX_PAYLOAD_BYTES = 256 * 1024
FLEET_IMAGES = 1000
EXECUTION_EVENTS = 2  # ExecutionStarted, ExecutionSucceeded
MAP_EVENTS = 4  # MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited
ITERATION_EVENTS = 2  # MapIterationStarted, MapIterationSucceeded
RETRY_EVENTS = 3  # a retried task: TaskScheduled, TaskStarted, TaskFailed once more
LONGEST_ERROR = "StepFunctions.ExecutionLimitExceededException"


def state_events(state: Mapping[str, Any]) -> int:
    """The history events one pass through ``state`` records (a Map's iterations not included)."""
    kind = state["Type"]
    if kind == "Map":
        return MAP_EVENTS
    if kind == "Task":
        resource = str(state["Resource"])
        return 6 if ".sync" in resource else 5
    if kind == "Fail":
        return 1
    return 2


def walk(states: Mapping[str, Any], start: str, choices: Mapping[str, str] | None = None) -> list[str]:
    """The states visited from ``start``: a Choice takes its Default unless ``choices`` names a branch."""
    path: list[str] = []
    name: str | None = start
    while name is not None:
        if len(path) > len(states):
            raise ValueError(f"the walk from {start} loops: {path}")
        path.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            name = (choices or {}).get(name, state["Default"])
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            name = None
        else:
            name = state["Next"]
    return path


def _cost(states: Mapping[str, Any], path: list[str]) -> int:
    return sum(state_events(states[name]) for name in path)


@dataclass(frozen=True)
class EventBudget:
    fixed: int  # the run outside the Map, both execution events included
    per_image: int  # one Map iteration that ends without a continuation
    per_follow_round: int  # one round of following a continued export (wait, describe, choice)

    def total(self, images: int, retries: int = 0, follow_rounds: int = 0) -> int:
        return (
            self.fixed
            + images * self.per_image
            + retries * RETRY_EVENTS
            + follow_rounds * self.per_follow_round
        )


def event_budget(definition: Mapping[str, Any], *, topic: bool = True) -> EventBudget:
    states = definition["States"]
    # Without a topic, the Choice's one branch (an empty topic ARN) skips the SNS task.
    route = {} if topic else {"ShouldNotifyTopic": states["ShouldNotifyTopic"]["Choices"][0]["Next"]}
    parent = walk(states, definition["StartAt"], route)
    iteration = states["ExportEach"]["ItemProcessor"]
    inner = iteration["States"]
    per_image = ITERATION_EVENTS + _cost(inner, walk(inner, iteration["StartAt"]))
    follow = ["WaitForContinuation", "DescribeContinuation", "HasContinuationEnded"]
    return EventBudget(
        fixed=EXECUTION_EVENTS + _cost(states, parent),
        per_image=per_image,
        per_follow_round=_cost(inner, follow),
    )


def estimated_events(images: int, *, topic: bool = True, definition_path: Path = DEFINITION) -> int:
    """The fleet execution's history length for ``images`` images (no retries, no continuations)."""
    return event_budget(json.loads(definition_path.read_text(encoding="utf-8")), topic=topic).total(images)


# --- payloads --------------------------------------------------------------------------------------


def _size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode())


def _image_id(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-000000000000"


def _failed(n: int) -> dict[str, Any]:
    result = fleet_summary.ItemResult(
        image_id=_image_id(n), status="FAILED", error=LONGEST_ERROR, reason="x" * fleet.MAX_REASON_CHARS
    )
    return result.model_dump(mode="json", exclude_none=True)


def _skipped(n: int) -> fleet.SkippedImage:
    return fleet.SkippedImage(
        image_id=_image_id(n),
        image_name="n" * fleet.MAX_NAME_CHARS,
        code="IMG.0160",
        reason="x" * fleet.MAX_SKIPPED_REASON_CHARS,
    )


@dataclass(frozen=True)
class Payloads:
    after_map: int  # the largest state: the selection, the plan with every image's result
    summary_state: int  # what Summarize returns: the summary and the notice
    output: int  # the execution's output: the summary
    event_detail: int  # the outcome event's detail (the notice)
    sns_message: int  # the SNS message (the notice as a JSON string)


def worst_payloads(images: int = FLEET_IMAGES) -> Payloads:
    """Sizes when every image failed, and when the selection skipped as many as it lists."""
    now = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    selection = {"trigger": "fleet", "name_prefix": "n" * 255, "tag": "k" * 128 + "=" + "v" * 255}
    sizes: list[Payloads] = []
    for listed_skipped in (0, fleet.MAX_LISTED_SKIPPED):
        results = [_failed(n) for n in range(images - listed_skipped)]
        skipped = [_skipped(n) for n in range(listed_skipped)]
        plan = {
            "items": results,
            "skipped": [entry.model_dump(mode="json") for entry in skipped],
            "skipped_count": listed_skipped,
            "max_concurrency": fleet.MAX_CONCURRENCY,
            "considered": images,
            "selected_at": now.isoformat(),
        }
        request = fleet_summary.SummaryRequest.model_validate(
            {**plan, "results": results, "execution": "a" * 200, "started_at": now}
        )
        # A 128-character stack name: the longest child execution ARNs a failed entry can carry.
        export_machine = f"arn:aws:states:eu-central-1:123456789012:stateMachine:{'s' * 128}-export"
        summary = fleet_summary.summarize(request, now=now, export_state_machine_arn=export_machine)
        notice = summary.notice()
        returned = {"summary": summary.model_dump(mode="json"), "notice": notice}
        sizes.append(
            Payloads(
                after_map=_size({**selection, "plan": plan}),
                summary_state=_size(returned),
                output=_size(returned["summary"]),
                event_detail=_size(notice),
                sns_message=len(json.dumps(json.dumps(notice, separators=(",", ":"))).encode()),
            )
        )
    return Payloads(*(max(values) for values in zip(*(vars(p).values() for p in sizes), strict=True)))


def report(images: int = FLEET_IMAGES) -> tuple[list[list[str]], bool]:
    budget = event_budget(json.loads(DEFINITION.read_text(encoding="utf-8")))
    events = budget.total(images)
    spare = MAX_HISTORY_EVENTS - events
    payloads = worst_payloads(images)
    rows = [
        ["history events per image (one Map iteration)", f"{budget.per_image:,}", "", ""],
        [
            f"history events, {images:,} images",
            f"{events:,}",
            f"{MAX_HISTORY_EVENTS:,}",
            f"{events / MAX_HISTORY_EVENTS:.0%}",
        ],
        ["  spare: retried child starts", f"{spare // RETRY_EVENTS:,}", "", ""],
        [
            "  spare: 30-min rounds following continued exports",
            f"{spare // budget.per_follow_round:,}",
            "",
            "",
        ],
    ]
    ok = events <= MAX_HISTORY_EVENTS
    for label, size in (
        ("largest state (after the Map), bytes", payloads.after_map),
        ("Summarize result (summary + notice), bytes", payloads.summary_state),
        ("execution output (summary), bytes", payloads.output),
        ("outcome event detail (notice), bytes", payloads.event_detail),
        ("SNS message (notice), bytes", payloads.sns_message),
    ):
        rows.append([label, f"{size:,}", f"{MAX_PAYLOAD_BYTES:,}", f"{size / MAX_PAYLOAD_BYTES:.0%}"])
        ok = ok and size <= MAX_PAYLOAD_BYTES
    return rows, ok


def main() -> int:
    rows, ok = report()
    print(f"Fleet of {FLEET_IMAGES:,} images (worst-case payloads: every image failed, longest reasons)")
    print(table(["Figure", "Value", "Limit", "Used"], rows))
    print("within Step Functions limits" if ok else "LIMIT EXCEEDED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
