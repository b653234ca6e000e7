"""An execution's history events in words: the progress lines of a run, a fleet's too."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from localdev.runner.text import counted, cut, duration
from localdev.runner.watch import ProgressMemory

if TYPE_CHECKING:
    from localdev.stepfunctions import LocalWorkflow


def exited_job(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The job a start or check step handed on, from its TaskStateExited event."""
    if event.get("type") != "TaskStateExited":
        return None
    details = event["stateExitedEventDetails"]
    if details["name"] not in ("CheckExport", "StartExport"):
        return None
    output = json.loads(details.get("output") or "{}")
    # A start that POSTed hands its job on through RecordJob (``then``: what is polled next).
    job = output.get("job") or (output.get("then") or {}).get("job")
    return job if isinstance(job, dict) and job else None


def started_target(event: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """The image name and bucket_url a start step named before any job: waiting for the image or
    claiming the export (from its TaskStateExited event)."""
    if event.get("type") != "TaskStateExited":
        return None
    details = event["stateExitedEventDetails"]
    if details["name"] != "StartExport":
        return None
    with suppress(ValueError):
        output = json.loads(details.get("output") or "{}")
        pending = output.get("pending") if isinstance(output, dict) else None
        if isinstance(pending, dict) and isinstance(pending.get("request"), dict):
            return pending.get("image_name"), pending["request"].get("bucket_url")
        if isinstance(output, dict) and output.get("phase") == "waiting_for_image":
            return output.get("image_name"), output.get("bucket_url")
    return None


def describe_event(event: Mapping[str, Any], progress: ProgressMemory | None = None) -> str | None:
    """One progress line for a history event, or None for the uninteresting ones."""
    kind = event.get("type", "")
    if kind.endswith("StateEntered"):
        return f"  -> {event['stateEnteredEventDetails']['name']}"
    job = exited_job(event)
    if job:
        return (
            f"     job {job.get('job_id')} {job.get('status')} progress "
            f"{(progress or ProgressMemory()).text(job)}, "
            f"polls {job.get('polls')}, next poll in {duration(float(job.get('next_wait_seconds') or 0))}"
            + (" unless OBS notifies the object first" if job.get("wake") else "")
        )
    if kind == "WaitStateEntered":
        return None
    if kind.endswith("Failed") or kind in ("ExecutionTimedOut", "ExecutionAborted"):
        details: Mapping[str, Any] = next(
            (value for key, value in event.items() if key.endswith("EventDetails")), {}
        )
        return f"  !! {kind}: {details.get('error', '')}: {_cause_words(details.get('cause', ''))}"
    return None


def _cause_words(cause: str) -> str:
    """A cause as words: the message of an outcome or a Lambda error, not JSON cut in the middle."""
    document: Any = None
    with suppress(ValueError):
        document = json.loads(cause)
    if isinstance(document, Mapping):
        cause = str(document.get("message") or document.get("errorMessage") or document.get("error") or cause)
    return cut(" ".join(cause.split()), 300)


def describe_fleet_event(event: Mapping[str, Any], progress: ProgressMemory | None = None) -> str | None:
    """One progress line for a fleet history event: the selection's pages, then the map runs (the
    images' lines come from their child executions, see ``describe_child_end``)."""
    kind = event.get("type", "")
    if kind == "TaskStateExited":
        details = event["stateExitedEventDetails"]
        output = json.loads(details.get("output") or "{}")
        if details["name"] == "SelectImages" and isinstance(output.get("plan"), dict):
            plan = output["plan"]
            lines = [
                f"  selected {plan['selected']} of {plan['considered']} images, "
                f"at most {plan['max_concurrency']} at a time (page {plan['page'] + 1} of {plan['pages']})"
            ]
            if plan["page"] == 0:
                lines += [
                    f"     skipped {item['image_id']} {item.get('image_name', '')}: {item['reason']}"
                    for item in plan["skipped"]
                ]
            return "\n".join(lines)
    if kind == "MapRunStarted":
        return f"  map run {event['mapRunStartedEventDetails']['mapRunArn']}"
    if kind.startswith("Execution") and kind != "ExecutionStarted":
        return describe_event(event, progress)
    return None


def describe_child_end(workflow: LocalWorkflow, arn: str) -> str:
    """The line for an ended child export: the image's result as the fleet records it."""
    from ims_export.fleet.items import ItemRecord, record_item

    child = workflow.sfn.describe_execution(executionArn=arn)
    given = json.loads(child.get("input") or "{}")
    described = {
        "Status": child["status"],
        "Output": child.get("output"),
        "Error": child.get("error"),
        "Cause": child.get("cause"),
    }
    result = record_item(ItemRecord(image_id=str(given.get("image_id", "")), child=described))
    return f"  image {result.image_id} {_image_result(result.model_dump(mode='json'))}"


def _image_result(result: Mapping[str, Any]) -> str:
    status = result.get("status")
    if status == "EXPORTED":
        exported = result.get("object") or {}
        size = f", {exported['size_bytes']} bytes" if isinstance(exported.get("size_bytes"), int) else ""
        polls = counted(result.get("polls"), "poll")
        return f"EXPORTED in {_duration_of(result.get('elapsed_seconds'))} ({polls}{size})"
    if status == "CONTINUED":
        return f"continued in {result.get('execution_arn')}"
    export = ", to ".join(str(result[name]) for name in ("image_name", "bucket_url") if result.get(name))
    return f"{status} {result.get('error')}: {result.get('reason')}" + (f" ({export})" if export else "")


def fleet_summary_line(output: Any) -> str | None:
    """The fleet's summary in one line, or None if ``output`` is not a fleet summary."""
    if not isinstance(output, Mapping) or output.get("detail_type") != "Fleet Export Finished":
        return None
    durations = output.get("durations") or {}
    line = (
        f"fleet {output['status']}: {output['exported_count']} exported, {output['skipped_count']} skipped, "
        f"{output['failed_count']} failed of {output['considered']} considered in "
        f"{_duration_of(durations.get('fleet_seconds'))} "
        f"(export mean {_duration_of(durations.get('export_seconds_mean'))})"
    )
    if output.get("failed_count"):
        line += (
            "; each entry of failed in the output names its error, its reason and its child execution "
            "(execution_arn): fix the cause, then export those images again"
        )
    return line


def _duration_of(seconds: Any) -> str:
    """A duration from a state machine's output, which may lack it (or hold anything else)."""
    is_number = isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0
    return duration(seconds) if is_number and seconds < float("inf") else "n/a"
