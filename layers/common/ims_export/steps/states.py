"""The payloads the export state machine and its steps exchange: pydantic models, no logic.

No payload ever holds a token or a credential: only ids, names, sizes, times and counters.
Models that only some requests validate (a wait, a duplicate, an SMN delivery, a hand-over or resume,
the outcome) are built on first use (``defer_build``): the cold start of an export builds only its own.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from ims_export.domain.export_request import ExportRequest
from ims_export.steps.contract import Phase
from ims_export.steps.handover import TICKET_PATTERN

# Re-exported (explicitly, for strict type checkers): every step imports its payloads from here.
from ims_export.steps.job_state import Exporting as Exporting  # noqa: PLC0414
from ims_export.steps.job_state import JobState as JobState  # noqa: PLC0414
from ims_export.steps.waking import Waking
from ims_export.triggers.orders import ExportOrder


class WaitingForImage(BaseModel):
    """The image is still queued/saving: the state machine waits ``wait_seconds``, then calls ``start``."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    phase: Literal[Phase.WAITING_FOR_IMAGE] = Phase.WAITING_FOR_IMAGE
    order: ExportOrder
    # What the export will be, for an outcome if the image never becomes ready (empty in the answers
    # of earlier releases, which an execution still waiting may hand back).
    image_name: str = ""
    bucket_url: str | None = None
    image_status: str
    checks: int = Field(ge=1)
    wait_seconds: int = Field(ge=1)
    execution_started_at: datetime


class Duplicate(BaseModel):
    """Another execution started this very export already: this one ends without polling it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    phase: Literal[Phase.DUPLICATE] = Phase.DUPLICATE
    job: JobState
    original_execution: str | None = None
    # RUNNING or SUCCEEDED (a failed original is exported again instead).
    original_status: str = "RUNNING"


class NotificationHandled(BaseModel):
    """An SMN message that asks for no export: a confirmed subscription, or an ignored message."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    phase: Literal[Phase.NOTIFICATION_HANDLED] = Phase.NOTIFICATION_HANDLED
    action: Literal["subscription_confirmed", "ignored"]
    topic_urn: str
    message_id: str
    detail: str = ""


# DynamoDB requests in the shape of the state machine's optimized integrations
# (``arn:aws:states:::dynamodb:putItem`` and the others): attribute maps, never a token.
DynamoDBRequest = dict[str, Any]


class PendingExport(BaseModel):
    """A checked export waiting for its duplicate claims: what the POST and the job need, and which
    claims (record ids) this execution holds so far."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: ExportRequest
    image_name: str
    image_size_bytes: int | None = None
    deadline: datetime
    delivery_id: str | None = None
    claiming: Literal["delivery", "export"]
    held: list[str] = Field(default_factory=list)
    # The export record found to hold a failed job: the next claim replaces it (if it still does).
    failed_job_id: str | None = None
    claim_waits: int = Field(default=0, ge=0)


class Claiming(BaseModel):
    """The state machine claims a record (``claim``: a conditional putItem) and calls ``start`` again
    with this answer plus ``claimed`` (the putItem's answer) or ``found`` (the getItem of the record
    that held the claim)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Literal[Phase.CLAIMING] = Phase.CLAIMING
    pending: PendingExport
    claim: DynamoDBRequest
    claimed: dict[str, Any] | None = None
    found: dict[str, Any] | None = None


class WaitingForClaim(BaseModel):
    """Another execution holds the claim while it starts the same export: the state machine waits
    ``wait_seconds`` and calls ``start`` again, which claims once more."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    phase: Literal[Phase.WAITING_FOR_CLAIM] = Phase.WAITING_FOR_CLAIM
    pending: PendingExport
    wait_seconds: int = Field(ge=1)


class Recording(BaseModel):
    """The state machine records the job on the claims (``records``: conditional updateItems), then
    goes on with ``then`` (poll the export, or end as a duplicate)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Literal[Phase.RECORDING] = Phase.RECORDING
    records: list[DynamoDBRequest]
    then: Exporting | Duplicate


StartResult = (
    Exporting
    | WaitingForImage
    | Duplicate
    | NotificationHandled
    | Waking
    | Claiming
    | WaitingForClaim
    | Recording
)


class HandOverTicket(BaseModel):
    """What a continuation receives instead of the job: the ticket of its hand-over record."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    ticket: str = Field(pattern=TICKET_PATTERN)


class ResumeInput(BaseModel):
    """The input of an execution started by a previous one to continue polling (continue-as-new)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    resume: HandOverTicket
    # Step Functions adds it to executions started by another one.
    AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: str | None = Field(default=None, max_length=2048)


class SmnDelivery(BaseModel):
    """What the SMN endpoint's request mapping makes of a POST: the raw body, as a string."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)

    smn_body: str  # its size is checked where it is parsed (ims_export.smn.messages)


class ReceivedInput(BaseModel):
    """The execution input as ReceiveInput wraps it: any JSON value, not yet understood."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: Any = None


_CALLED_AGAIN_WITH = (Phase.WAITING_FOR_IMAGE, Phase.CLAIMING, Phase.WAITING_FOR_CLAIM)


def _state_kind(value: Any) -> str:
    phase = value.get("phase") if isinstance(value, dict) else getattr(value, "phase", None)
    return phase if phase in _CALLED_AGAIN_WITH else "received"


class StartInput(BaseModel):
    """What the start step receives: the state it is called with -- the wrapped execution input, or
    its own earlier answer (the image is not ready yet; a claim made, found taken or waited for) that
    the state machine hands back (an input never holds one: ReceiveInput wraps it) -- and the
    execution it runs in (which tells a retried step from a duplicate trigger).

    ``{"event": ...}`` is short for ``{"state": {"input": ...}}`` (a direct invocation)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: Annotated[
        Annotated[ReceivedInput, Tag("received")]
        | Annotated[WaitingForImage, Tag(Phase.WAITING_FOR_IMAGE)]
        | Annotated[Claiming, Tag(Phase.CLAIMING)]
        | Annotated[WaitingForClaim, Tag(Phase.WAITING_FOR_CLAIM)],
        Discriminator(_state_kind),
    ] = ReceivedInput()
    execution_id: str | None = Field(default=None, max_length=2048)
    execution_started_at: datetime | None = None
    # How often the state machine retried this call ($$.State.RetryCount): a retried POST that meets
    # IMG.0148 may have met the export its own earlier attempt started, whose answer was lost.
    retry_count: int = Field(default=0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _event_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict) and "event" in value and "state" not in value:
            rest = {key: item for key, item in value.items() if key != "event"}
            return {**rest, "state": {"input": value["event"]}}
        return value

    @property
    def event(self) -> Any:
        """The execution input (None when the step is called again for a waited-for image)."""
        return self.state.input if isinstance(self.state, ReceivedInput) else None

    @property
    def execution_name(self) -> str | None:
        """The last part of the execution's ARN: the name a continuation is started under."""
        return self.execution_id.rsplit(":", 1)[-1] if self.execution_id else None


class HandOverRequest(BaseModel):
    """The state machine asks to store a running job for the execution that will continue it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    hand_over: JobState


class HandOverResult(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    ticket: str
    continuation_name: str


def continuation_name(job: JobState, ticket: str) -> str:
    """The name StartContinuation starts the continuation under: job id and polls, to read, and a digest
    of the hand-over ticket, so that nobody can take the name before the hand-over (the ticket is first
    seen in the continuation's own input). A retried StartContinuation uses the same name. At most 80
    characters, as Step Functions allows."""
    digest = hashlib.sha256(ticket.encode()).hexdigest()[:20]
    return f"{job.job_id[:48]}-{job.polls}-{digest}"


class RefreshInput(BaseModel):
    """The scheduled refresher's event: its content does not matter (a schedule or a manual call)."""

    model_config = ConfigDict(extra="allow")
