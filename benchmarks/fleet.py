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
from pathlib import Path
from typing import Any

from benchmarks._fleet_sizes import pieces_for, worst_sizes
from benchmarks._tables import table
from ims_export.cloud.ims_api import MAX_PAGE_SIZE
from ims_export.fleet import selection as fleet

DEFINITION = Path(__file__).resolve().parents[1] / "statemachine" / "fleet.asl.json"
MAX_HISTORY_EVENTS = 25_000
MAX_PAYLOAD_BYTES = 256 * 1024
FLEET_SIZES = (1000, 10_000)
CONCURRENCY = fleet.DEFAULT_MAX_CONCURRENCY
EXECUTION_EVENTS = 2  # ExecutionStarted, ExecutionSucceeded
INLINE_MAP_EVENTS = 4  # MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited
DISTRIBUTED_MAP_EVENTS = 6  # ... and MapRunStarted, MapRunSucceeded
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
