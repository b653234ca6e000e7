"""Following an execution as it runs: its progress lines, printed from a background thread, and the
executions it continues in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from localdev.runner.describe import describe_child_end, describe_event, exited_job, started_target
from localdev.runner.layout import NOTIFICATION_EXECUTION_PREFIX
from localdev.runner.text import say
from localdev.runner.watch import ProgressMemory, RunWatch
from localdev.stepfunctions import ExecutionResult, LocalWorkflow


@contextmanager
def progress_printer(
    workflow: LocalWorkflow,
    arn: str,
    stream: TextIO,
    describe: Callable[[Mapping[str, Any], ProgressMemory], str | None] = describe_event,
    watch: RunWatch | None = None,
    *,
    children: str | None = None,
) -> Iterator[None]:
    """Print the execution's history as it grows, from a background thread (and tell ``watch`` the
    latest job, for heartbeats and for an interrupted run). ``children`` names the state machine of
    child executions (a fleet's exports) whose jobs ``watch`` hears of too."""
    stop = threading.Event()
    progress = ProgressMemory()

    def follow() -> None:
        seen = 0
        seen_in_child: dict[str, int] = {}
        ended_children: set[str] = set()
        while True:
            finished = stop.is_set()
            events = workflow.history(arn)
            for event in events[seen:]:
                job = exited_job(event)
                if job and watch is not None:
                    watch.saw_job(job)
                target = started_target(event)
                if target and watch is not None:
                    watch.saw_target(*target)
                line = describe(event, progress)
                if line:
                    say(stream, line)
            seen = len(events)
            if children is not None:
                for child in workflow.executions(children):
                    child_arn = child["executionArn"]
                    if child_arn in ended_children or child["name"].startswith(NOTIFICATION_EXECUTION_PREFIX):
                        continue
                    child_events = workflow.history(child_arn)
                    for event in child_events[seen_in_child.get(child_arn, 0) :]:
                        job = exited_job(event)
                        if job and watch is not None:
                            watch.saw_job(job, child=True)
                    seen_in_child[child_arn] = len(child_events)
                    if child["status"] != "RUNNING":
                        ended_children.add(child_arn)
                        say(stream, describe_child_end(workflow, child_arn))
            if finished:
                return
            stop.wait(0.05)

    thread = threading.Thread(target=follow, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # The last pass prints what the run ended with: no time limit, which a loaded machine can exceed
        # (it reads the in-process AWS world only; Ctrl-C still interrupts the wait).
        thread.join()


def follow_continuations(
    workflow: LocalWorkflow, arn: str, stream: TextIO, timeout: float, watch: RunWatch | None = None
) -> ExecutionResult:
    """Wait for the execution and for any execution it continued in (history-limit guard)."""
    while True:
        with progress_printer(workflow, arn, stream, watch=watch):
            result = workflow.wait_for(arn, timeout=watch.time_left(timeout) if watch else timeout)
        continued = (result.output or {}).get("continued_in") if result.status == "SUCCEEDED" else None
        if not continued:
            return result
        arn = continued["execution_arn"]
        say(stream, f"  .. continued in {arn}")
