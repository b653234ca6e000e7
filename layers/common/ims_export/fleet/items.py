"""Each image's result in a fleet: what its child export's ending (succeeded, failed, a duplicate, continued
in a new execution, or caught by the Map iteration) means, read tolerantly from whatever shape it has.

Every Map iteration of the fleet state machine ends in ``record_item``; reading the child's output here,
rather than with JSONPath in the definition, keeps the iteration working for every output shape."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ims_export.fleet.results import json_or_none
from ims_export.fleet.selection import MAX_NAME_CHARS, shorten

# A failed entry's bucket_url is cut to this (its image_name as a skipped image's): hundreds are listed.
MAX_BUCKET_URL_CHARS = 128
# Child errors that mean "this image cannot be exported", not "the export broke".
SKIP_ERRORS = frozenset({"ImageNotExportableError", "ImageNotFoundError", "ImageNotReadyError"})
ItemStatus = Literal["EXPORTED", "SKIPPED", "FAILED", "CONTINUED"]


class ItemResult(BaseModel):
    """One image's result as the Map collects it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: str
    status: ItemStatus
    # The export a failed child outcome names (as far as it got): what to look at, or export again.
    image_name: str | None = None
    bucket_url: str | None = None
    elapsed_seconds: float | None = None
    polls: int | None = None
    error: str | None = None
    reason: str | None = None
    # CONTINUED: the execution the export went on in, which the fleet follows; in the summary's failed
    # entries: the child execution to open (derived there, see ``child_execution_arn``).
    execution_arn: str | None = None
    # The exported object as the child's outcome describes it (size_bytes, last_modified, url, ...).
    object: dict[str, Any] | None = None


class ItemRecord(BaseModel):
    """A Map iteration's state at its end: the image, and the child execution or the failure.

    ``child`` is a DescribeExecution result: from ``startExecution.sync:2`` (``Output`` parsed) or from
    ``aws-sdk:sfn:describeExecution`` while following a continuation (``Output`` as a JSON string).
    ``failure`` is what a Catch hands over (``Error``, ``Cause``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    image_id: str
    child: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _reason_from_outcome(outcome: Any, fallback: str) -> str:
    """The export outcome's reason: the IMS job's code and reason, else the failed step's message."""
    if not isinstance(outcome, dict):
        return fallback
    fail_reason, code = outcome.get("fail_reason"), outcome.get("error_code")
    if fail_reason or code:
        return ": ".join(_text(part) for part in (code, fail_reason) if part)
    if outcome.get("reason"):
        return _text(outcome["reason"])
    if outcome.get("message"):  # the outcome step's readable sentence
        return _text(outcome["message"])
    # A failed Lambda step's cause is the Lambda error ({"errorMessage", "errorType", ...}), as an
    # object or as JSON text.
    cause = outcome.get("cause")
    lambda_error = cause if isinstance(cause, dict) else json_or_none(cause)
    if isinstance(lambda_error, dict) and lambda_error.get("errorMessage"):
        return _text(lambda_error["errorMessage"])
    return _text(cause) or fallback


def _failed(image_id: str, error: str, reason: str) -> ItemResult:
    status: ItemStatus = "SKIPPED" if error in SKIP_ERRORS else "FAILED"
    return ItemResult(image_id=image_id, status=status, error=error, reason=shorten(reason))


def _from_ended_execution(image_id: str, execution: dict[str, Any]) -> ItemResult:
    """A child that did not succeed: its error, and the reason from its outcome (the cause, as JSON)."""
    error = _text(execution.get("Error")) or "Execution" + _text(execution.get("Status")).title().replace(
        "_", ""
    )
    cause = _text(execution.get("Cause"))
    outcome = json_or_none(cause)
    failed = _failed(image_id, error, _reason_from_outcome(outcome, cause))
    if isinstance(outcome, dict):  # the export and how far it got before it failed
        elapsed, polls = outcome.get("elapsed_seconds"), outcome.get("polls")
        usable_polls = isinstance(polls, int) and not isinstance(polls, bool) and polls >= 0
        usable_elapsed = isinstance(elapsed, int | float) and not isinstance(elapsed, bool) and elapsed >= 0
        named = {
            name: shorten(value, limit)
            for name, limit in (("image_name", MAX_NAME_CHARS), ("bucket_url", MAX_BUCKET_URL_CHARS))
            if isinstance(value := outcome.get(name), str) and value
        }
        failed = failed.model_copy(
            update={
                "elapsed_seconds": elapsed if usable_elapsed else None,
                "polls": polls if usable_polls else None,
                **named,
            }
        )
    return failed


def _from_failure(image_id: str, failure: dict[str, Any]) -> ItemResult:
    error, cause = _text(failure.get("Error")) or "UnknownError", _text(failure.get("Cause"))
    described = json_or_none(cause)
    # startExecution.sync:2 fails with States.TaskFailed and the child's DescribeExecution as the cause.
    if error == "States.TaskFailed" and isinstance(described, dict) and "Status" in described:
        return _from_ended_execution(image_id, described)
    return _failed(image_id, error, cause)


def _from_output(image_id: str, output: Any) -> ItemResult:
    if not isinstance(output, dict):
        return _failed(image_id, "UnexpectedChildOutput", "the export ended without an outcome")
    continued = output.get("continued_in")
    if isinstance(continued, dict) and continued.get("execution_arn"):
        return ItemResult(
            image_id=image_id, status="CONTINUED", execution_arn=str(continued["execution_arn"])
        )
    status = output.get("status")
    if status == "SUCCEEDED":
        described = output.get("object")
        return ItemResult(
            image_id=image_id,
            status="EXPORTED",
            elapsed_seconds=output.get("elapsed_seconds"),
            polls=output.get("polls"),
            object=described if isinstance(described, dict) else None,
        )
    if status == "DUPLICATE":
        reason = f"already being exported by {output.get('original_execution') or 'another execution'}"
        return ItemResult(
            image_id=image_id, status="SKIPPED", error="DuplicateTrigger", reason=shorten(reason)
        )
    return _failed(image_id, "UnexpectedChildOutput", f"the export ended with status {status!r}")


def record_item(record: ItemRecord) -> ItemResult:
    """One image's result, whichever way its child export ended."""
    if record.failure is not None:
        return _from_failure(record.image_id, record.failure)
    if record.child is None:
        return _failed(record.image_id, "UnexpectedChildOutput", "neither a child execution nor a failure")
    if record.child.get("Status") != "SUCCEEDED":
        return _from_ended_execution(record.image_id, record.child)
    return _from_output(record.image_id, json_or_none(record.child.get("Output")))


def item_from_record(record: dict[str, Any]) -> ItemResult:
    """One image's result from a map run's execution record (a child workflow of the Distributed Map).

    A child that succeeded returns its ``ItemResult``; one that failed anyway (a Step Functions error
    the iteration could not catch) is a failure named after its input's image."""
    output = json_or_none(record.get("Output"))
    if record.get("Status") == "SUCCEEDED" and isinstance(output, dict):
        try:
            return ItemResult.model_validate(output)
        except ValueError:
            pass
    given = json_or_none(record.get("Input"))
    image_id = str(given.get("image_id", "")) if isinstance(given, dict) else ""
    if isinstance(output, dict) and output.get("image_id"):
        image_id = str(output["image_id"])
    error = _text(record.get("Error")) or "Execution" + _text(record.get("Status")).title().replace("_", "")
    return _failed(image_id or "unknown", error, _text(record.get("Cause")) or "the child workflow failed")
