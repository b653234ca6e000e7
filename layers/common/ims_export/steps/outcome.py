"""The outcome step: what became of an export, from the state the export state machine ends in.

One pure function for every ending -- success, a job FAIL, a timeout, a duplicate, a refused SMN
delivery, and a failure at any stage (start, image wait, export) -- so that every outcome names the
image and the target as far as they are known, the error and a readable message, with the cause as
structured JSON and every time on the step's clock. It also says which final state the execution ends
in (``route``, a state name of the definition) and whether the outcome is published.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ims_export.clock import duration_text
from ims_export.domain.export_request import export_subject
from ims_export.domain.jobs import JobStatus
from ims_export.settings import Settings
from ims_export.steps.contract import Phase, Route
from ims_export.steps.outcome_payloads import (
    CaughtError,
    DescribedOutcome,
    EndedState,
    Outcome,
    OutcomeInput,
    OutcomeStatus,
)
from ims_export.steps.states import JobState
from ims_export.triggers.orders import ExportOrder, order_named_by

DETAIL_TYPES: dict[OutcomeStatus, str] = {
    "SUCCEEDED": "Image Export Succeeded",
    "FAILED": "Image Export Failed",
    "DUPLICATE": "Image Export Duplicate",
    "REFUSED": "SMN Delivery Refused",
}
# A delivery to the SMN endpoint that ended in these was never verified: refused, not published.
UNVERIFIED_DELIVERY_ERRORS = frozenset({"SmnMessageRefusedError", "SmnCertificateUnavailableError"})
# Job fields the outcome carries when the job has them set (fields some exports add to JobState).
# Fields of the job state an outcome carries only where they say something (an empty list says nothing).
OPTIONAL_JOB_FIELDS = ("object", "retention", "noticed", "warnings")
# Failed outcomes end in the Fail state of their error; any other error ends in ExportFailed.
FAIL_STATES = {
    "InvalidRequestError": Route.INVALID_REQUEST,
    "ImageNotExportableError": Route.IMAGE_NOT_EXPORTABLE,
    "ImageNotFoundError": Route.IMAGE_NOT_EXPORTABLE,
    "ImageNotReadyError": Route.IMAGE_NOT_READY,
    "ExportJobFailed": Route.EXPORT_JOB_FAILED,
    "ExportTimedOut": Route.EXPORT_TIMED_OUT,
    "ExportObjectMissing": Route.EXPORT_OBJECT_MISSING,
}
ENDINGS: dict[OutcomeStatus, Route] = {
    "SUCCEEDED": Route.EXPORT_SUCCEEDED,
    "DUPLICATE": Route.DUPLICATE_TRIGGER,
    "REFUSED": Route.REQUEST_REFUSED,
}
# Why IMS refused to start these exports, in words (the outcome's ``reason``).
REASONS = {
    "ExportAlreadyRunningError": (
        "IMS is exporting this image already (IMG.0148); no second export was started."
    ),
    "ObjectAlreadyExistsError": "The target object exists already (IMG.0070); IMS never overwrites it.",
}
WORKFLOW_ERRORS = {
    "States.Timeout": "a step did not answer within its TimeoutSeconds, even when retried",
    "States.TaskFailed": "a service integration of the state machine failed",
    "States.Permissions": "the state machine's role may not call a service it needs",
    "States.Runtime": "the state machine could not process a state (a path or payload problem)",
}
# The cause parts kept from a Lambda error (its stack trace is in the function's log).
CAUSE_FIELDS = ("errorType", "errorMessage", "requestId")


def structured_cause(failure: CaughtError) -> dict[str, Any]:
    """A Catch's cause as an object: Lambda's error JSON parsed, plain text kept as the message."""
    try:
        parsed = json.loads(failure.Cause or "")
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return {key: parsed[key] for key in CAUSE_FIELDS if key in parsed}
    return {"errorType": failure.Error, "errorMessage": failure.Cause or ""}


def _failure_message(failure: CaughtError, cause: dict[str, Any]) -> str:
    text = str(cause.get("errorMessage") or "")
    meaning = WORKFLOW_ERRORS.get(failure.Error)
    if meaning:
        return f"{meaning}: {text}" if text else meaning
    return text or REASONS.get(failure.Error) or f"the step failed with {failure.Error}"


def _export_fields(job: JobState) -> dict[str, Any]:
    """The export a job runs: the image, the target and the job."""
    return {
        "image_id": job.image_id,
        "image_name": job.image_name or None,
        **job.target.fields(),
        "job_id": job.job_id,
        "export_started_at": job.started_at,
    }


def _as_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return list(value) if isinstance(value, tuple) else value


def _job_fields(job: JobState) -> dict[str, Any]:
    """The export and how far the job got."""
    fields: dict[str, Any] = {
        **_export_fields(job),
        "job_status": job.status.value,
        "percent": job.percent,
        "error_code": job.error_code,
        "fail_reason": job.fail_reason,
        "export_finished_at": job.finished_at,
        "elapsed_seconds": job.elapsed_seconds,
        "polls": job.polls,
        "continuations": job.continuations,
    }
    fields.update(
        # As plain JSON: their own nulls (verification_reason, ...) are part of what they say.
        {name: _as_json(getattr(job, name)) for name in OPTIONAL_JOB_FIELDS if getattr(job, name, None)}
    )
    return fields


def _order_fields(order: ExportOrder | None, settings: Settings) -> dict[str, Any]:
    """The image and target an order names; a default object name is not rendered (that needs the
    image's name, which only IMS knows), so only an explicit ``bucket_url`` is named."""
    if order is None:
        return {}
    file_format = None if order.is_quick_export else (order.file_format or settings.export_file_format)
    return {
        "image_id": order.image_id,
        "bucket_url": order.bucket_url,
        "file_format": file_format.value if file_format is not None else None,
        "is_quick_export": order.is_quick_export,
    }


# Characters that change how text reads or lays out rather than what it says: the C0 and C1 controls and
# the bidirectional overrides and isolates. An image name carrying them reaches mail, chat and consoles
# through the outcome's events and messages; there they are shown as \uXXXX.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def readable(value: Any) -> Any:
    """``value`` with every string's hidden characters written out as ``\\uXXXX``."""
    if isinstance(value, str):
        return _HIDDEN.sub(lambda match: f"\\u{ord(match.group()):04x}", value)
    if isinstance(value, dict):
        return {key: readable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [readable(item) for item in value]
    return value


def _described(status: OutcomeStatus, route: Route, **fields: Any) -> DescribedOutcome:
    fields = readable(fields)
    outcome = Outcome.model_validate({"status": status, "detail_type": DETAIL_TYPES[status], **fields})
    return DescribedOutcome(outcome=outcome, route=route, publish=status in ("SUCCEEDED", "FAILED"))


def _image_words(fields: dict[str, Any]) -> str:
    return export_subject(str(fields.get("image_id")), fields.get("image_name"), fields.get("bucket_url"))


def _job_ended(job: JobState, common: dict[str, Any]) -> DescribedOutcome:
    fields = {**common, **_job_fields(job), "stage": "export"}
    what = _image_words(fields)
    if job.status is JobStatus.SUCCESS and job.object is not None and job.object.verification == "missing":
        # IMS said SUCCESS; the check of the object in OBS found nothing usable.
        message = job.object.verification_reason or f"nothing usable was exported for {what}"
        error = "ExportObjectMissing"
        return _described(
            "FAILED",
            FAIL_STATES[error],
            **{**fields, "stage": "verify"},
            error=error,
            cause={"errorType": error, "errorMessage": message},
            message=message,
        )
    if job.status is JobStatus.SUCCESS:
        polls = f"{job.polls} poll" + ("" if job.polls == 1 else "s")
        message = f"exported {what} in {duration_text(job.elapsed_seconds)} with {polls} (job {job.job_id})"
        return _described("SUCCEEDED", ENDINGS["SUCCEEDED"], message=message, **fields)
    if job.status is JobStatus.FAIL:
        error = "ExportJobFailed"
        why = ": ".join(part for part in (job.error_code, job.fail_reason) if part) or "no reason given"
        message = f"IMS ended export job {job.job_id} of {what} with FAIL: {why}"
    elif job.timed_out:
        error = "ExportTimedOut"
        message = (
            f"export job {job.job_id} of {what} had not ended by its deadline {job.deadline.isoformat()} "
            "(EXECUTION_TIMEOUT_SECONDS); it may still be running: check it in the IMS console before "
            "exporting again, and raise EXECUTION_TIMEOUT_SECONDS (Settings) for images this large"
        )
    else:
        error = "UnknownJobStatus"
        message = f"export job {job.job_id} of {what} ended the poll loop in status {job.status.value}"
    return _described(
        "FAILED", FAIL_STATES.get(error, Route.EXPORT_FAILED), error=error, message=message, **fields
    )


def _failed(
    state: EndedState, failure: CaughtError, common: dict[str, Any], settings: Settings
) -> DescribedOutcome:
    cause = structured_cause(failure)
    fields: dict[str, Any] = {
        **common,
        "error": failure.Error,
        "cause": cause,
        "message": _failure_message(failure, cause),
        "reason": REASONS.get(failure.Error),
    }
    if state.job is not None:
        fields.update(_job_fields(state.job), stage="export")
    elif state.pending is not None:  # the start failed while claiming its duplicate records
        request = state.pending.request
        fields.update(
            image_id=request.image_id,
            image_name=state.pending.image_name or None,
            **request.target.fields(),
            stage="start",
        )
    elif state.phase == Phase.WAITING_FOR_IMAGE:
        fields.update(
            _order_fields(state.order, settings),
            **({"image_name": state.image_name} if state.image_name else {}),
            **({"bucket_url": state.bucket_url} if state.bucket_url else {}),
            stage="image_wait",
            image_status=state.image_status,
            image_checks=state.checks,
        )
    else:
        fields.update(_order_fields(order_named_by(state.input), settings), stage="start")
    if failure.Error.startswith("States."):
        route = Route.WORKFLOW_FAILED
    else:
        route = FAIL_STATES.get(failure.Error, Route.EXPORT_FAILED)
    return _described("FAILED", route, **fields)


def build_outcome(request: OutcomeInput, *, now: datetime, settings: Settings) -> DescribedOutcome:
    """The outcome of the state an export ended in; ``now`` is the step's clock."""
    state = request.state
    common: dict[str, Any] = {"execution": request.execution_id, "finished_at": now}
    failure = state.failure
    if failure is not None and failure.Error in UNVERIFIED_DELIVERY_ERRORS and state.phase is None:
        cause = structured_cause(failure)
        # A refusal names nothing from the body: it is not an authentic message.
        return _described(
            "REFUSED",
            ENDINGS["REFUSED"],
            **common,
            stage="smn",
            error=failure.Error,
            cause=cause,
            message=_failure_message(failure, cause),
        )
    if failure is not None:
        return _failed(state, failure, common, settings)
    if state.phase == Phase.DUPLICATE and state.job is not None:
        job = state.job
        fields = {
            **common,
            **_export_fields(job),
            "stage": "start",
            "original_execution": state.original_execution,
            "original_status": state.original_status,
        }
        message = (
            f"{_image_words(fields)} is exported already by job {job.job_id} "
            f"({state.original_status}, {state.original_execution or 'another execution'}): "
            "no second export was started"
        )
        return _described("DUPLICATE", ENDINGS["DUPLICATE"], message=message, **fields)
    if state.job is not None:
        return _job_ended(state.job, common)
    return _described(
        "FAILED",
        Route.WORKFLOW_FAILED,
        **common,
        stage="export",
        error="States.Runtime",
        message="the export ended in a state without a job or an error (a defect of the state machine)",
    )
