"""The payloads of an export's end: the state it ended in, as the outcome step receives it, and the
outcome it describes (what is published, how the execution ends, which claims to release first).

Built on first use (``defer_build``): only the outcome step validates them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ims_export.steps.contract import Phase, Route
from ims_export.steps.job_state import JobState
from ims_export.steps.states import DynamoDBRequest, PendingExport
from ims_export.triggers.orders import ExportOrder


class CaughtError(BaseModel):
    """What a Catch puts into the state: the error's name and its cause (text, often JSON)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    Error: str = Field(min_length=1)
    Cause: str | None = None


class EndedState(BaseModel):
    """The state the export ends in, as the state machine hands it to the outcome step: the received
    input or a start step's answer, a caught error where one ended it. Read tolerantly: whatever
    else the state holds (a hand-over ticket, a continuation) does not matter to the outcome."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    phase: Phase | str | None = None  # None: the start step never answered (the received input)
    input: Any = None
    job: JobState | None = None
    order: ExportOrder | None = None
    image_name: str | None = None
    bucket_url: str | None = None
    image_status: str | None = None
    checks: int | None = None
    original_execution: str | None = None
    original_status: str | None = None
    pending: PendingExport | None = None  # the start failed while claiming (or holding) its records
    failure: CaughtError | None = None


class OutcomeInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    state: EndedState
    execution_id: str | None = Field(default=None, max_length=2048)


class OutcomeRequest(BaseModel):
    """The state machine asks for the outcome of the state the export ended in."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    outcome: OutcomeInput


OutcomeStatus = Literal["SUCCEEDED", "FAILED", "DUPLICATE", "REFUSED"]


class Outcome(BaseModel):
    """What is published (EventBridge detail, SNS message) and is the execution's output or cause.

    Fields that are not known at the stage the export ended are left out; optional job fields
    (``OPTIONAL_JOB_FIELDS`` of the outcome step) are added when the job has them."""

    model_config = ConfigDict(frozen=True, extra="allow", defer_build=True)

    status: OutcomeStatus
    detail_type: str
    stage: Literal["smn", "start", "image_wait", "export", "verify"]
    error: str | None = None
    message: str
    # The caught error, structured: Lambda's error object (errorType, errorMessage, requestId), or
    # {"errorType", "errorMessage"} for an error whose cause is plain text.
    cause: dict[str, Any] | None = None
    reason: str | None = None
    image_id: str | None = None
    image_name: str | None = None
    bucket_url: str | None = None
    file_format: str | None = None
    is_quick_export: bool | None = None
    image_status: str | None = None
    image_checks: int | None = None
    job_id: str | None = None
    job_status: str | None = None
    percent: float | None = None
    error_code: str | None = None
    fail_reason: str | None = None
    export_started_at: datetime | None = None
    export_finished_at: datetime | None = None
    elapsed_seconds: float | None = None
    polls: int | None = None
    continuations: int | None = None
    original_execution: str | None = None
    original_status: str | None = None
    # The failed export could not be forgotten as a duplicate (the next identical trigger may be
    # taken for one until the record expires): the error's name (set by the state machine).
    release_error: str | None = None
    execution: str | None = None
    finished_at: datetime


class ClaimRelease(BaseModel):
    """The claims the state machine deletes before it publishes (conditional deleteItems)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    deletes: list[DynamoDBRequest] = Field(min_length=1)


class DescribedOutcome(BaseModel):
    """The outcome step's answer: the outcome, the state the execution ends in, whether to publish,
    and the duplicate records to drop first (a failed export, claims of a start that failed)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    outcome: Outcome
    route: Route
    publish: bool
    release: ClaimRelease | None = None
