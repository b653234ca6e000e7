"""Fleet exports: each image's result, and the summary of the run.

Every Map iteration of the fleet state machine ends in ``record_item``, whatever way its child export
ended: succeeded, failed, a duplicate of a running export, or continued in a new execution (the history
guard of long exports). Reading the child's output here, rather than with JSONPath in the definition,
keeps the iteration working for every output shape. The result is a few dozen bytes, because the Map
collects 1,000 of them into one state, which Step Functions caps at 256 KB.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ims_export.fleet.selection import SkippedImage, shorten

# The run's output lists this many skipped and failed images at most (all are counted), the outcome
# event and the SNS message fewer: the state, the event and the message are capped at 256 KB.
MAX_LISTED_IN_SUMMARY = 200
MAX_LISTED_IN_NOTICE = 100
FLEET_DETAIL_TYPE = "Fleet Export Finished"
# Child errors that mean "this image cannot be exported", not "the export broke".
SKIP_ERRORS = frozenset({"ImageNotExportableError", "ImageNotFoundError", "ImageNotReadyError"})
ItemStatus = Literal["EXPORTED", "SKIPPED", "FAILED", "CONTINUED"]


class ItemResult(BaseModel):
    """One image's result as the Map collects it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: str
    status: ItemStatus
    elapsed_seconds: float | None = None
    polls: int | None = None
    error: str | None = None
    reason: str | None = None
    # EXPORTED: the object as the export verified it (its outcome's ``object``), when it was checked.
    size_bytes: int | None = None
    verification: Literal["verified", "unverified"] | None = None
    # CONTINUED: the execution the export went on in, which the fleet follows; in the summary's failed
    # entries: the child execution to open (derived there, see ``child_execution_arn``).
    execution_arn: str | None = None


class ItemRecord(BaseModel):
    """A Map iteration's state at its end: the image, and the child execution or the failure.

    ``child`` is a DescribeExecution result: from ``startExecution.sync:2`` (``Output`` parsed) or from
    ``aws-sdk:sfn:describeExecution`` while following a continuation (``Output`` as a JSON string).
    ``failure`` is what a Catch hands over (``Error``, ``Cause``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    image_id: str
    child: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None


def _json_or_none(text: Any) -> Any:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


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
    # A failed Lambda step's cause is the Lambda error as JSON ({"errorMessage", "errorType", ...}).
    cause = outcome.get("cause")
    lambda_error = _json_or_none(cause)
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
    return _failed(image_id, error, _reason_from_outcome(_json_or_none(cause), cause))


def _from_failure(image_id: str, failure: dict[str, Any]) -> ItemResult:
    error, cause = _text(failure.get("Error")) or "UnknownError", _text(failure.get("Cause"))
    described = _json_or_none(cause)
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
        return ItemResult(
            image_id=image_id,
            status="EXPORTED",
            elapsed_seconds=output.get("elapsed_seconds"),
            polls=output.get("polls"),
            **_exported_object(output.get("object")),
        )
    if status == "DUPLICATE":
        reason = f"already being exported by {output.get('original_execution') or 'another execution'}"
        return ItemResult(
            image_id=image_id, status="SKIPPED", error="DuplicateTrigger", reason=shorten(reason)
        )
    return _failed(image_id, "UnexpectedChildOutput", f"the export ended with status {status!r}")


def _exported_object(exported: Any) -> dict[str, Any]:
    """Size and verification from a succeeded outcome's ``object`` (absent, or null when unchecked)."""
    if not isinstance(exported, dict):
        return {}
    size = exported.get("size_bytes")
    verification = exported.get("verification")
    return {
        "size_bytes": size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        "verification": verification if verification in ("verified", "unverified") else None,
    }


def record_item(record: ItemRecord) -> ItemResult:
    """One image's result, whichever way its child export ended."""
    if record.failure is not None:
        return _from_failure(record.image_id, record.failure)
    if record.child is None:
        return _failed(record.image_id, "UnexpectedChildOutput", "neither a child execution nor a failure")
    if record.child.get("Status") != "SUCCEEDED":
        return _from_ended_execution(record.image_id, record.child)
    return _from_output(record.image_id, _json_or_none(record.child.get("Output")))


# --- the summary -----------------------------------------------------------------------------------


class SummaryRequest(BaseModel):
    """The end of the fleet run: every selected image's result, and the selection's skipped images."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    results: list[ItemResult]
    skipped: list[SkippedImage]
    skipped_count: int = Field(ge=0)
    considered: int = Field(ge=0)
    execution: str
    started_at: datetime


class ExportDurations(BaseModel):
    model_config = ConfigDict(frozen=True)

    fleet_seconds: float
    export_seconds_min: float | None = None
    export_seconds_max: float | None = None
    export_seconds_mean: float | None = None
    export_seconds_total: float = 0.0


class ExportedBytes(BaseModel):
    """What the exports wrote, as OBS showed it: in total, and per image for the largest
    ``MAX_LISTED_IN_SUMMARY`` exports with a known size (the state is capped at 256 KB)."""

    model_config = ConfigDict(frozen=True)

    total: int = 0
    by_image: dict[str, int] = Field(default_factory=dict)


class VerificationCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    verified: int = 0
    unverified: int = 0
    not_checked: int = 0  # VerifyExportedObject off, or an outcome from before verification


class FleetSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["SUCCEEDED", "PARTIAL", "FAILED"]
    detail_type: str = FLEET_DETAIL_TYPE
    execution: str
    started_at: datetime
    finished_at: datetime
    considered: int
    selected: int
    exported_count: int
    skipped_count: int
    failed_count: int
    durations: ExportDurations
    exported_bytes: ExportedBytes = ExportedBytes()
    verification: VerificationCounts = VerificationCounts()
    exported: list[str]  # image ids
    skipped: list[SkippedImage]
    failed: list[ItemResult]
    truncated: bool  # some skipped or failed images are counted but not listed

    def notice(self) -> dict[str, Any]:
        """The summary for the outcome event and SNS (both capped at 256 KB): without the exported
        ids and their bytes per image (the total stays), and with at most ``MAX_LISTED_IN_NOTICE``
        skipped and failed images each."""
        body = self.model_dump(mode="json", exclude={"exported": True, "exported_bytes": {"by_image"}})
        body["skipped"] = body["skipped"][:MAX_LISTED_IN_NOTICE]
        body["failed"] = body["failed"][:MAX_LISTED_IN_NOTICE]
        body["truncated"] = (
            self.skipped_count > MAX_LISTED_IN_NOTICE or self.failed_count > MAX_LISTED_IN_NOTICE
        )
        return body


def _durations(exported: list[ItemResult], fleet_seconds: float) -> ExportDurations:
    seconds = [item.elapsed_seconds for item in exported if item.elapsed_seconds is not None]
    if not seconds:
        return ExportDurations(fleet_seconds=fleet_seconds)
    return ExportDurations(
        fleet_seconds=fleet_seconds,
        export_seconds_min=min(seconds),
        export_seconds_max=max(seconds),
        export_seconds_mean=round(sum(seconds) / len(seconds), 3),
        export_seconds_total=round(sum(seconds), 3),
    )


def _exported_bytes(exported: list[ItemResult]) -> ExportedBytes:
    sizes = {item.image_id: item.size_bytes for item in exported if item.size_bytes is not None}
    largest = sorted(sizes.items(), key=lambda entry: entry[1], reverse=True)[:MAX_LISTED_IN_SUMMARY]
    return ExportedBytes(total=sum(sizes.values()), by_image=dict(largest))


def _verification_counts(exported: list[ItemResult]) -> VerificationCounts:
    verified = sum(1 for item in exported if item.verification == "verified")
    unverified = sum(1 for item in exported if item.verification == "unverified")
    return VerificationCounts(
        verified=verified, unverified=unverified, not_checked=len(exported) - verified - unverified
    )


def child_execution_arn(export_state_machine_arn: str, fleet_execution: str, image_id: str) -> str:
    """The ARN of the child export the fleet ran for ``image_id``. fleet.asl.json names each child
    ``<image id>-<MD5 of the fleet execution's id>``; deriving the ARN here, rather than carrying it in
    each image's result, keeps 1,000 results within the Map state's 256 KB."""
    digest = hashlib.md5(fleet_execution.encode(), usedforsecurity=False).hexdigest()
    prefix = export_state_machine_arn.replace(":stateMachine:", ":execution:", 1)
    return f"{prefix}:{image_id}-{digest}"


def summarize(
    request: SummaryRequest, *, now: datetime, export_state_machine_arn: str | None = None
) -> FleetSummary:
    """Exported, skipped (at selection or by the child) and failed images, with reasons and durations;
    each failed entry names its child execution when ``export_state_machine_arn`` is given.

    A result still CONTINUED (the fleet stopped following it) counts as failed: nobody saw it end."""
    exported = [item for item in request.results if item.status == "EXPORTED"]
    failed = [item for item in request.results if item.status in ("FAILED", "CONTINUED")]
    if export_state_machine_arn:
        failed = [
            item
            if item.execution_arn
            else item.model_copy(
                update={
                    "execution_arn": child_execution_arn(
                        export_state_machine_arn, request.execution, item.image_id
                    )
                }
            )
            for item in failed[:MAX_LISTED_IN_SUMMARY]
        ] + failed[MAX_LISTED_IN_SUMMARY:]
    skipped_by_child = [
        SkippedImage(image_id=item.image_id, code=item.error, reason=item.reason or "")
        for item in request.results
        if item.status == "SKIPPED"
    ]
    skipped = list(request.skipped) + skipped_by_child
    skipped_count = request.skipped_count + len(skipped_by_child)
    status: Literal["SUCCEEDED", "PARTIAL", "FAILED"] = "SUCCEEDED"
    if failed:
        status = "PARTIAL" if exported else "FAILED"
    fleet_seconds = round(max((now - request.started_at).total_seconds(), 0.0), 3)
    return FleetSummary(
        status=status,
        execution=request.execution,
        started_at=request.started_at,
        finished_at=now,
        considered=request.considered,
        selected=len(request.results),
        exported_count=len(exported),
        skipped_count=skipped_count,
        failed_count=len(failed),
        durations=_durations(exported, fleet_seconds),
        exported_bytes=_exported_bytes(exported),
        verification=_verification_counts(exported),
        exported=[item.image_id for item in exported],
        skipped=skipped[:MAX_LISTED_IN_SUMMARY],
        failed=failed[:MAX_LISTED_IN_SUMMARY],
        truncated=skipped_count > MAX_LISTED_IN_SUMMARY or len(failed) > MAX_LISTED_IN_SUMMARY,
    )
