"""Fleet benchmark: fleets of 1,000 and 10,000 images against Step Functions' limits, and their duration.

**History events** are counted by walking ``statemachine/fleet.asl.json`` with the events Step Functions
records for each kind of state (a task: entered, scheduled, started, succeeded, exited; a ``.sync`` task
also "submitted"; a Pass, Choice, Wait or Succeed: entered and exited; a Distributed Map: entered,
started, map run started and succeeded, succeeded, exited). Three kinds of execution are involved: the
fleet (one round per page of the selection, per page exported and per piece of results read), the map
runs' child workflows (one per image: the export as a child execution, then the result), and the
export executions themselves (unchanged: their polls are ``benchmarks.polling``'s). A map run has no
history of its own. ``tests/fleet`` checks the fleet's count against the history moto records.

**Largest state** of each: the real models in the worst case (every image failed with the longest
error and reason, the most skipped images listed, the longest names), serialized as Step Functions
holds them (a piece of a result file is an escaped JSON string in the state).

**IMS calls per image** of the selection: every page of the selection lists the whole selection again
(``MAX_PAGE_SIZE`` images a call), plus one parent lookup per distinct parent (none here). Each child
export then makes the calls of a single export (an export request, its polls: ``benchmarks.polling``).

**Duration** in simulated time: export durations drawn from a log-normal distribution (median 300 s,
sigma 0.6, seeded), started greedily whenever a slot of the concurrency cap is free, one page after the
other (the last exports of a page hold back the next page: the cost of holding the cap without a
shared counter); each Lambda or S3 step of the fleet's own takes ``STEP_SECONDS``. Against: the same
exports one after the other, and the ideal (their sum over the cap).
"""

from __future__ import annotations

import heapq
import json
import math
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks._tables import table
from ims_export.cloud.ims_api import MAX_PAGE_SIZE
from ims_export.fleet import items as fleet_items
from ims_export.fleet import results as fleet_results
from ims_export.fleet import selection as fleet
from ims_export.fleet import summary as fleet_summary
from ims_export.fleet import tally as fleet_tally

DEFINITION = Path(__file__).resolve().parents[1] / "statemachine" / "fleet.asl.json"
MAX_HISTORY_EVENTS = 25_000
MAX_PAYLOAD_BYTES = 256 * 1024
FLEET_SIZES = (1000, 10_000)
CONCURRENCY = fleet.DEFAULT_MAX_CONCURRENCY
EXECUTION_EVENTS = 2  # ExecutionStarted, ExecutionSucceeded
INLINE_MAP_EVENTS = 4  # MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited
DISTRIBUTED_MAP_EVENTS = 6  # ... and MapRunStarted, MapRunSucceeded
LONGEST_ERROR = "StepFunctions.ExecutionLimitExceededException"
STEP_SECONDS = 0.5
EXPORT_MEDIAN_SECONDS = 300.0
EXPORT_SIGMA = 0.6
SELECTION_STATES = ("SelectImages", "WritePage", "HasMorePages")
EXPORT_PAGE_STATES = ("ExportPage", "ReadManifest", "FoldResults", "WhatNext")
PIECE_STATES = ("ReadPiece", "FoldResults", "WhatNext")
CHILD_PATH = ("ExportImage", "RecordResult", "IsStillRunning", "ImageDone")


def state_events(state: Mapping[str, Any]) -> int:
    """The history events one pass through ``state`` records (a Map's iterations not included)."""
    kind = state["Type"]
    if kind == "Map":
        distributed = state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
        return DISTRIBUTED_MAP_EVENTS if distributed else INLINE_MAP_EVENTS
    if kind == "Task":
        return 6 if ".sync" in str(state["Resource"]) else 5
    if kind == "Fail":
        return 1
    return 2


def _cost(states: Mapping[str, Any], path: tuple[str, ...] | list[str]) -> int:
    return sum(state_events(states[name]) for name in path)


@dataclass(frozen=True)
class EventBudget:
    fixed: int  # the run outside its loops, both execution events included
    per_selection_page: int
    per_further_selection_page: int  # the Pass that turns to the next page
    per_export_page: int
    per_piece: int

    def total(self, *, pages: int, pieces: int) -> int:
        return (
            self.fixed
            + pages * (self.per_selection_page + self.per_export_page)
            + max(pages - 1, 0) * self.per_further_selection_page
            + pieces * self.per_piece
        )


def event_budget(definition: Mapping[str, Any], *, topic: bool = True) -> EventBudget:
    states = definition["States"]
    ending = ["PublishSummary", "ReadNotificationSettings", "ShouldNotifyTopic"]
    ending += ["NotifyTopic"] if topic else []
    ending += ["RouteResult", "FleetFinished"]
    return EventBudget(
        fixed=EXECUTION_EVENTS + _cost(states, ["StartSelection", "KeepPlan", "HasImages", *ending]),
        per_selection_page=_cost(states, SELECTION_STATES),
        per_further_selection_page=_cost(states, ["SelectNextPage"]),
        per_export_page=_cost(states, EXPORT_PAGE_STATES),
        per_piece=_cost(states, PIECE_STATES),
    )


def load_definition() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DEFINITION.read_text(encoding="utf-8"))
    return document


def estimated_events(*, pages: int, pieces: int, topic: bool = True) -> int:
    """The fleet execution's history length (no retries): ``pages`` pages, ``pieces`` pieces read."""
    return event_budget(load_definition(), topic=topic).total(pages=pages, pieces=pieces)


def child_workflow_events() -> int:
    """One map run child workflow (one image, no continuation)."""
    inner = load_definition()["States"]["ExportPage"]["ItemProcessor"]["States"]
    return EXECUTION_EVENTS + _cost(inner, CHILD_PATH)


# --- sizes -----------------------------------------------------------------------------------------


def _size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode())


def _image_id(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-000000000000"


NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
FLEET_ARN = f"arn:aws:states:eu-central-1:123456789012:execution:{'s' * 74}-fleet:{'e' * 80}"
EXPORT_MACHINE = f"arn:aws:states:eu-central-1:123456789012:stateMachine:{'s' * 74}-export"


def _failed(n: int) -> fleet_items.ItemResult:
    return fleet_items.ItemResult(
        image_id=_image_id(n),
        status="FAILED",
        image_name="n" * fleet.MAX_NAME_CHARS,
        bucket_url=f"{'b' * 63}:{'o' * (fleet_items.MAX_BUCKET_URL_CHARS - 64)}",
        error=LONGEST_ERROR,
        reason="x" * fleet.MAX_REASON_CHARS,
    )


def _skipped(n: int) -> fleet.SkippedImage:
    return fleet.SkippedImage(
        image_id=_image_id(n),
        image_name="n" * fleet.MAX_NAME_CHARS,
        code="IMG.0160",
        reason="x" * fleet.MAX_SKIPPED_REASON_CHARS,
    )


def result_record(n: int) -> dict[str, Any]:
    """An execution record of a map run's result file, as AWS writes it, for a failed image."""
    item = {"image_id": _image_id(n), "file_format": "qcow2", "is_quick_export": False}
    given = {"image_id": _image_id(n), "order": item, "name": f"{_image_id(n)}-{'d' * 32}"}
    child = f"{FLEET_ARN.replace(':execution:', ':execution:', 1)}/ExportPage:{'c' * 36}"
    return {
        "ExecutionArn": child,
        "Input": json.dumps(given),
        "InputDetails": {"Included": True},
        "Name": "c" * 36,
        "Output": json.dumps(_failed(n).model_dump(mode="json", exclude_none=True)),
        "OutputDetails": {"Included": True},
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
        "StartDate": "2026-11-29T02:00:00.000Z",
        "StateMachineArn": FLEET_ARN.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
        "Status": "SUCCEEDED",
        "StopDate": "2026-11-29T02:10:00.000Z",
    }


def result_file_bytes(images: int) -> int:
    return images * (_size(result_record(0)) + 1) + 1


def pieces_for(images: int) -> int:
    """The pieces read for a fleet of ``images``, page by page (one result file per page)."""
    pages = math.ceil(images / fleet.PAGE_SIZE)
    sizes = [min(fleet.PAGE_SIZE, images - page * fleet.PAGE_SIZE) for page in range(pages)]
    return sum(math.ceil(result_file_bytes(size) / fleet_results.PIECE_BYTES) for size in sizes)


def _plan_page(images: int) -> dict[str, Any]:
    items = [
        fleet.FleetItem(image_id=_image_id(n), file_format="qcow2").model_dump(mode="json", exclude_none=True)
        for n in range(min(images, fleet.PAGE_SIZE))
    ]
    return {
        "items": items,
        "page": 0,
        "pages": math.ceil(images / fleet.PAGE_SIZE),
        "next_page": 1,
        "selected": images,
        "skipped": [_skipped(n).model_dump(mode="json") for n in range(fleet.MAX_LISTED_SKIPPED)],
        "skipped_count": images,
        "max_concurrency": fleet.MAX_CONCURRENCY,
        "considered": 2 * images,
        "selected_at": NOW.isoformat(),
    }


def _worst_tally(images: int) -> fleet_tally.ResultsTally:
    tally = fleet_tally.ResultsTally(page=0, bucket="b" * 63, carry=json.dumps(result_record(0)))
    tally.map_runs = [f"{FLEET_ARN}:{'m' * 36}"] * math.ceil(images / fleet.PAGE_SIZE)
    tally.files = [fleet_results.ResultFile(key=f"results/{'m' * 36}/SUCCEEDED_0.json", size=10**9)]
    tally.next = fleet_results.PieceRequest(bucket="b" * 63, key=tally.files[0].key, range="bytes=0-32767")
    for n in range(images):
        tally.add(_failed(n), listed_skipped_room=0)
    return tally


@dataclass(frozen=True)
class Sizes:
    selection_state: int  # after a page of the selection: the page's items, the listed skipped images
    reading_state: int  # while reading: plan, tally (lists full) and the piece as an escaped string
    summary_state: int  # the end: summary and notice
    child_state: int  # a map run child workflow after its export: the child's DescribeExecution
    result_file: int  # one page's result file (S3, no limit here)


def worst_sizes(images: int) -> Sizes:
    selection_input = {"trigger": "fleet", "name_prefix": "n" * 255, "tag": "k" * 128 + "=" + "v" * 255}
    page = _plan_page(images)
    selection_state = _size({**selection_input, "select_page": 0, "plan": page})
    plan = fleet_tally.PlanHeader.model_validate(page)
    tally = _worst_tally(images)
    piece = json.dumps([result_record(n) for n in range(40)])[: fleet_results.PIECE_BYTES]
    reading_state = _size(
        {
            "plan": plan.model_dump(mode="json"),
            "tally": tally.model_dump(mode="json", exclude_none=True),
            "map_run": {"MapRunArn": tally.map_runs[0], "ResultWriterDetails": {"Bucket": "b", "Key": "k"}},
            "piece": {"body": piece},
        }
    )
    summary = fleet_summary.summarize_tally(
        plan, tally, execution=FLEET_ARN, started_at=NOW, now=NOW, export_state_machine_arn=EXPORT_MACHINE
    )
    summary_state = _size({"summary": summary.model_dump(mode="json"), "notice": summary.notice()})
    outcome = {"status": "FAILED", "error": LONGEST_ERROR, "cause": "c" * 4000, "image_name": "n" * 255}
    described = {
        "Status": "FAILED",
        "Output": json.dumps(outcome),
        "ExecutionArn": "a" * 200,
        "Input": "i" * 300,
    }
    child_state = _size({"image_id": _image_id(0), "order": {}, "name": "x" * 80, "child": described})
    return Sizes(
        selection_state, reading_state, summary_state, child_state, result_file_bytes(fleet.PAGE_SIZE)
    )


# --- duration --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Durations:
    fleet_seconds: float
    sequential_seconds: float
    ideal_seconds: float  # the sum over the cap: no page boundaries, no tail


def _page_makespan(durations: list[float], cap: int) -> float:
    slots = [0.0] * min(cap, len(durations))
    heapq.heapify(slots)
    for seconds in durations:
        heapq.heappush(slots, heapq.heappop(slots) + seconds)
    return max(slots, default=0.0)


def simulate(images: int, cap: int = CONCURRENCY, seed: int = 14) -> Durations:
    rng = random.Random(seed)
    durations = [rng.lognormvariate(math.log(EXPORT_MEDIAN_SECONDS), EXPORT_SIGMA) for _ in range(images)]
    pages = math.ceil(images / fleet.PAGE_SIZE)
    own_steps = pages * (2 + 2) + pieces_for(images) * 2 + 2  # Lambda and S3 tasks of the fleet itself
    exports = sum(
        _page_makespan(durations[page * fleet.PAGE_SIZE : (page + 1) * fleet.PAGE_SIZE], cap)
        for page in range(pages)
    )
    return Durations(
        fleet_seconds=exports + own_steps * STEP_SECONDS,
        sequential_seconds=sum(durations),
        ideal_seconds=sum(durations) / cap,
    )


def selection_ims_calls(images: int, considered: int | None = None) -> int:
    pages = math.ceil(images / fleet.PAGE_SIZE)
    listed = images if considered is None else considered
    return pages * max(math.ceil(listed / MAX_PAGE_SIZE), 1)


# --- report ----------------------------------------------------------------------------------------


def _used(value: int, limit: int) -> list[str]:
    return [f"{value:,}", f"{limit:,}", f"{value / limit:.0%}"]


def report(images: int) -> tuple[list[list[str]], bool]:
    pages = math.ceil(images / fleet.PAGE_SIZE)
    pieces = pieces_for(images)
    events = estimated_events(pages=pages, pieces=pieces)
    sizes = worst_sizes(images)
    child_events = child_workflow_events()
    largest_fleet_state = max(sizes.selection_state, sizes.reading_state, sizes.summary_state)
    durations = simulate(images)
    calls = selection_ims_calls(images)
    rows = [
        [
            f"fleet: pages of {fleet.PAGE_SIZE:,} images / pieces of results read",
            f"{pages} / {pieces}",
            "",
            "",
        ],
        ["fleet: history events", *_used(events, MAX_HISTORY_EVENTS)],
        [
            "fleet: largest state, bytes (after a selection page)",
            *_used(sizes.selection_state, MAX_PAYLOAD_BYTES),
        ],
        ["fleet: largest state, bytes (reading results)", *_used(sizes.reading_state, MAX_PAYLOAD_BYTES)],
        ["fleet: largest state, bytes (summary + notice)", *_used(sizes.summary_state, MAX_PAYLOAD_BYTES)],
        ["map run: items per run (one run per page)", f"{min(images, fleet.PAGE_SIZE):,}", "", ""],
        ["map run: result file, bytes (S3)", f"{sizes.result_file:,}", "", ""],
        ["largest child workflow: history events", *_used(child_events, MAX_HISTORY_EVENTS)],
        ["largest child workflow: largest state, bytes", *_used(sizes.child_state, MAX_PAYLOAD_BYTES)],
        ["IMS calls per image, selection (list calls)", f"{calls / images:.3f}", "", ""],
        ["IMS calls per image, each child export", "1 export + its polls", "", ""],
        [
            f"duration at concurrency {CONCURRENCY}, simulated, hours",
            f"{durations.fleet_seconds / 3600:.1f}",
            "",
            "",
        ],
        [
            "  sequential export of the same images, hours",
            f"{durations.sequential_seconds / 3600:.1f}",
            "",
            "",
        ],
        [
            "  speed-up over sequential / over the ideal (sum / cap)",
            f"{durations.sequential_seconds / durations.fleet_seconds:.2f}x",
            "",
            f"{durations.ideal_seconds / durations.fleet_seconds:.1%}",
        ],
    ]
    ok = (
        events <= MAX_HISTORY_EVENTS
        and largest_fleet_state <= MAX_PAYLOAD_BYTES
        and child_events <= MAX_HISTORY_EVENTS
        and sizes.child_state <= MAX_PAYLOAD_BYTES
    )
    return rows, ok


def main() -> int:
    ok = True
    for images in FLEET_SIZES:
        rows, fits = report(images)
        ok = ok and fits
        print(f"Fleet of {images:,} images (worst-case payloads: every image failed, longest reasons)")
        print(table(["Figure", "Value", "Limit", "Used"], rows))
        print()
    print("within Step Functions limits" if ok else "LIMIT EXCEEDED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
