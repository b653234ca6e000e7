"""The steps of the export state machine, as plain functions over pydantic state payloads.

The state machine (``statemachine/export.asl.json``) decides *when*; these functions decide *what*:

- ``start``: normalize the trigger, check the image, start the export -- or report that the image is
  still being created (the state machine waits and calls ``start`` again), or resume a job handed over
  by a previous execution (continue-as-new; only with a hand-over record, see ``handover``). The export
  call runs under an ``ExportGuard``: a duplicate trigger ends as ``Duplicate`` naming the first job
  and what became of it, a retried start step of the same execution polls that job. A delivery to the
  SMN endpoint (``{"smn_body": "<raw body>"}``) can act only once its signature verifies: it either
  names the image to export or is handled on its own (``NotificationHandled``); anything else on that
  path is an ``SmnMessageRefusedError``, before any IAM or IMS call.
- ``hand_over`` / ``release``: store a running job for the continuation; forget a failed export so that
  a new trigger exports again.
- ``check``: query the job once and say whether it ended, timed out, must continue in a new execution,
  and how long to wait before the next query. An answer that shows no job state is counted and
  retried with backoff; only a sustained run of them ends the export (``UnreadableJobAnswer``).
- ``refresh_token``: refresh the cached IAM token ahead of time.

No payload ever holds a token or a credential: only ids, names, sizes, times and counters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, RootModel, Tag

from ims_export.domain.export_request import ExportRequest
from ims_export.domain.exportability import check_exportable, parent_image_id_to_check
from ims_export.domain.images import Image
from ims_export.domain.jobs import Job, JobStatus
from ims_export.domain.polling import choose_next_wait
from ims_export.errors import (
    AuthenticationError,
    ConfigurationError,
    HandOverNotFoundError,
    ImageNotFoundError,
    ImageNotReadyError,
    ImsExportError,
    InvalidRequestError,
    JobNotFoundError,
    MalformedAnswerError,
    SmnMessageRefusedError,
    UnknownJobStatusError,
    UnreadableJobAnswer,
)
from ims_export.parsing import parse_model
from ims_export.runtime import Clients
from ims_export.steps.handover import HANDOVER_SECONDS, TICKET_PATTERN, new_ticket
from ims_export.triggers.events import (
    ExportOrder,
    build_export_request,
    check_order,
    normalize_event,
    smn_order,
)

if TYPE_CHECKING:
    # Off the cold path of the check step: the idempotency store and the SMN verifier (cryptography)
    # are imported by the start step only, where they are used.
    from ims_export.auth.cache import RefreshReport
    from ims_export.smn.messages import SmnOutcome
    from ims_export.steps.export_guard import ExportGuard, OriginalStatus
    from ims_export.steps.handover import HandOverStore

logger = logging.getLogger(__name__)

# Parses, verifies and acts on a raw SMN body (``ims_export.smn.messages.handle_smn_message`` with the
# verifier and session bound); raises before any side effect when the message is not authentic.
SmnHandler = Callable[[Any], "SmnOutcome"]

DEFAULT_EXECUTION_TIMEOUT_SECONDS = 48 * 3600
# About 9 history events per poll: 2,000 polls stay well below the 25,000-event limit.
DEFAULT_MAX_POLLS_PER_EXECUTION = 2000
DEFAULT_MAX_IMAGE_CHECKS = 120


class Limits(BaseModel):
    """Bounds the state machine passes in (as strings, from its definition substitutions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    execution_timeout_seconds: int = Field(default=DEFAULT_EXECUTION_TIMEOUT_SECONDS, ge=1)
    max_polls_per_execution: int = Field(default=DEFAULT_MAX_POLLS_PER_EXECUTION, ge=1)
    max_image_checks: int = Field(default=DEFAULT_MAX_IMAGE_CHECKS, ge=1)


class JobState(BaseModel):
    """The job descriptor carried from poll to poll (and into a continued execution)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)
    image_id: str
    image_name: str
    image_size_bytes: int | None = None
    bucket_url: str
    file_format: str | None = None
    is_quick_export: bool = False
    started_at: datetime
    deadline: datetime
    max_polls_per_execution: int = Field(ge=1)
    status: JobStatus = JobStatus.INIT
    percent: float | None = None
    polls: int = Field(default=0, ge=0)
    polls_in_execution: int = Field(default=0, ge=0)
    continuations: int = Field(default=0, ge=0)
    elapsed_seconds: float = 0.0
    next_wait_seconds: int = Field(default=1, ge=0)
    finished_at: datetime | None = None
    error_code: str | None = None
    fail_reason: str | None = None
    timed_out: bool = False
    continue_as_new: bool = False
    # Job answers in a row that showed no job state, and since when (reset by a readable one).
    unreadable_answers: int = Field(default=0, ge=0)
    unreadable_since: datetime | None = None


class Exporting(BaseModel):
    """The export runs: the state machine waits ``job.next_wait_seconds``, then calls ``check``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Literal["exporting"] = "exporting"
    job: JobState


class WaitingForImage(BaseModel):
    """The image is still queued/saving: the state machine waits ``wait_seconds``, then calls ``start``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Literal["waiting_for_image"] = "waiting_for_image"
    order: ExportOrder
    image_status: str
    checks: int = Field(ge=1)
    wait_seconds: int = Field(ge=1)
    execution_started_at: datetime


class Duplicate(BaseModel):
    """Another execution started this very export already: this one ends without polling it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Literal["duplicate"] = "duplicate"
    job: JobState
    original_execution: str | None = None
    # RUNNING or SUCCEEDED (a failed original is exported again instead).
    original_status: str = "RUNNING"


class NotificationHandled(BaseModel):
    """An SMN message that asks for no export: a confirmed subscription, or an ignored message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Literal["notification_handled"] = "notification_handled"
    action: Literal["subscription_confirmed", "ignored"]
    topic_urn: str
    message_id: str
    detail: str = ""


StartResult = Exporting | WaitingForImage | Duplicate | NotificationHandled


class HandOverTicket(BaseModel):
    """What a continuation receives instead of the job: the ticket of its one-time hand-over record."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    ticket: str = Field(pattern=TICKET_PATTERN)


class ResumeInput(BaseModel):
    """The input of an execution started by a previous one to continue polling (continue-as-new)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resume: HandOverTicket
    # Step Functions adds it to executions started by another one.
    AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: str | None = Field(default=None, max_length=2048)


class SmnDelivery(BaseModel):
    """What the SMN endpoint's request mapping makes of a POST: the raw body, as a string."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    smn_body: str  # its size is checked where it is parsed (ims_export.smn.messages)


class StartInput(BaseModel):
    """What the start step receives: the execution input (``event``) or its own earlier answer
    (``waiting``, never taken from an input), the limits, and the execution it runs in (which tells a
    retried step from a duplicate trigger)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: Any = None
    waiting: WaitingForImage | None = None
    limits: Limits = Limits()
    execution_id: str | None = Field(default=None, max_length=2048)
    execution_started_at: datetime | None = None

    def kind(self) -> str:
        if self.waiting is not None:
            return "waiting_for_image"
        if isinstance(self.event, dict):
            if "smn_body" in self.event:
                return "smn"
            if "resume" in self.event:
                return "resume"
        return "trigger"

    @property
    def execution_name(self) -> str | None:
        """The last part of the execution's ARN: the name a continuation is started under."""
        return self.execution_id.rsplit(":", 1)[-1] if self.execution_id else None


class HandOverRequest(BaseModel):
    """The state machine asks to store a running job for the execution that will continue it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hand_over: JobState


class HandOverResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket: str
    continuation_name: str


class FailedExport(BaseModel):
    """The export a failure outcome names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)
    image_id: str
    bucket_url: str
    file_format: str | None = None
    is_quick_export: bool = False


class ReleaseRequest(BaseModel):
    """The state machine reports an export that ended in failure: forget it as a duplicate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    release: FailedExport


class ReleaseResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    released: bool


def _step_request_kind(value: Any) -> str:
    if isinstance(value, dict):
        if "hand_over" in value:
            return "hand_over"
        if "release" in value:
            return "release"
    return "start"


class StartStepRequest(
    RootModel[
        Annotated[
            Annotated[StartInput, Tag("start")]
            | Annotated[HandOverRequest, Tag("hand_over")]
            | Annotated[ReleaseRequest, Tag("release")],
            Discriminator(_step_request_kind),
        ]
    ]
):
    """Any payload the state machine sends the start function (its states build them, never an input)."""


def continuation_name(job: JobState) -> str:
    """The name ContinueAsNew starts the continuation under (its States.Format of job id and polls)."""
    return f"{job.job_id}-{job.polls}"


def _fetch_parent(clients: Clients, image: Image) -> Image | None:
    parent_id = parent_image_id_to_check(image)
    if parent_id is None:
        return None
    try:
        return clients.ims.get_image(parent_id)
    except ImageNotFoundError:
        return None  # not visible to this project: no public parent to hold against the image


def _job_state(
    request: ExportRequest,
    image: Image,
    job_id: str,
    *,
    started_at: datetime,
    deadline: datetime,
    limits: Limits,
    clients: Clients,
) -> JobState:
    return JobState(
        job_id=job_id,
        image_id=image.id,
        image_name=image.name,
        image_size_bytes=image.size_bytes or None,
        bucket_url=request.bucket_url,
        file_format=request.file_format.value if request.file_format else None,
        is_quick_export=request.is_quick_export,
        started_at=started_at,
        deadline=deadline,
        max_polls_per_execution=limits.max_polls_per_execution,
        next_wait_seconds=clients.settings.poll_min_seconds,
    )


def _start_order(
    order: ExportOrder,
    *,
    checks_so_far: int,
    first_started_at: datetime,
    start_input: StartInput,
    clients: Clients,
    guard: ExportGuard,
    now: datetime,
) -> Exporting | WaitingForImage | Duplicate:
    """Check the image and start (or find) its export; an error names the image and the target."""
    target: dict[str, str] = {}
    try:
        return _start_named_order(
            order,
            target=target,
            checks_so_far=checks_so_far,
            first_started_at=first_started_at,
            start_input=start_input,
            clients=clients,
            guard=guard,
            now=now,
        )
    except ImsExportError as error:
        # The outcome of a failed start carries the error's message only: it must say what failed.
        where = f" to {target['bucket_url']} as {target['format']}" if target else ""
        error.message = f"export of image {order.image_id}{where}: {error.message}"
        error.args = (error.message,)
        raise


def _start_named_order(
    order: ExportOrder,
    *,
    target: dict[str, str],
    checks_so_far: int,
    first_started_at: datetime,
    start_input: StartInput,
    clients: Clients,
    guard: ExportGuard,
    now: datetime,
) -> Exporting | WaitingForImage | Duplicate:
    limits = start_input.limits
    image = clients.ims.get_image(order.image_id)
    # A retried step renders the same default object name as its first attempt did.
    named_at = start_input.execution_started_at or now
    request = build_export_request(order, image_name=image.name, settings=clients.settings, now=named_at)
    target["bucket_url"] = request.bucket_url
    target["format"] = request.file_format.value if request.file_format else "ZVHD2 (quick export)"
    try:
        check_exportable(
            image, request, project_id=clients.project_id(), parent=_fetch_parent(clients, image)
        )
    except ImageNotReadyError:
        checks = checks_so_far + 1
        if not image.status.pending or checks >= limits.max_image_checks:
            raise
        return WaitingForImage(
            order=order,
            image_status=image.status.value,
            checks=checks,
            wait_seconds=clients.settings.poll_min_seconds,
            execution_started_at=first_started_at,
        )
    # The deadline counts from the execution's start: waiting for the image uses up the same budget.
    deadline = first_started_at + timedelta(seconds=limits.execution_timeout_seconds)

    def export() -> dict[str, Any]:
        job_id = clients.ims.export_image(request)
        job = _job_state(
            request, image, job_id, started_at=now, deadline=deadline, limits=limits, clients=clients
        )
        return job.model_dump(mode="json")

    execution = start_input.execution_id
    guarded = guard.run(
        request,
        execution=execution,
        start=export,
        delivery=order.delivery_id,
        status_of=lambda record: original_status(clients, record),
    )
    job = JobState.model_validate(guarded.record)
    if guarded.replayed and (execution is None or guarded.execution != execution):
        status = guarded.original_status.value if guarded.original_status else "RUNNING"
        return Duplicate(job=job, original_execution=guarded.execution, original_status=status)
    return Exporting(job=job)


def original_status(clients: Clients, record: Any) -> OriginalStatus:
    """What became of the job of a found export record, as IMS tells it."""
    from ims_export.steps.export_guard import OriginalStatus  # noqa: PLC0415 - see the TYPE_CHECKING note

    job_id = record.get("job_id") if isinstance(record, dict) else None
    if not isinstance(job_id, str):
        return OriginalStatus.FAILED  # not a record we wrote: nothing runs
    try:
        job = clients.ims.get_job(job_id)
    except JobNotFoundError:
        return OriginalStatus.FAILED  # IMS does not know it (any more): it is not running
    if job.status is JobStatus.SUCCESS:
        return OriginalStatus.SUCCEEDED
    return OriginalStatus.FAILED if job.status is JobStatus.FAIL else OriginalStatus.RUNNING


def _smn_order(
    start_input: StartInput, smn: SmnHandler | None, clients: Clients
) -> ExportOrder | NotificationHandled:
    """Verify the delivery to the SMN endpoint; every refusal is an SmnMessageRefusedError."""
    try:
        delivery = parse_model(SmnDelivery, start_input.event)
        if smn is None:
            raise InvalidRequestError("SMN messages are not accepted here", code="SmnNotConfigured")
        outcome = smn(delivery.smn_body)
    except SmnMessageRefusedError:
        raise
    except InvalidRequestError as error:
        raise SmnMessageRefusedError(f"SMN delivery refused: {error.message}", code=error.code) from None
    if outcome.action == "image_created" and outcome.image_id is not None:
        return smn_order(outcome.image_id, clients.settings, message_id=outcome.message_id)
    action: Literal["subscription_confirmed", "ignored"] = (
        "subscription_confirmed" if outcome.action == "subscription_confirmed" else "ignored"
    )
    return NotificationHandled(
        action=action, topic_urn=outcome.topic_urn, message_id=outcome.message_id, detail=outcome.detail
    )


def _resume(start_input: StartInput, handovers: HandOverStore | None, now: datetime) -> Exporting:
    """The job a previous execution handed over to this one; refused unless it did."""
    ticket = parse_model(ResumeInput, start_input.event).resume.ticket
    name = start_input.execution_name
    record = (
        handovers.claim(ticket, execution_name=name, now=int(now.timestamp()))
        if handovers is not None and name
        else None
    )
    if record is None:
        raise HandOverNotFoundError(
            "resume refused: no execution of this state machine handed a job over to this one "
            "(continuations are started by the state machine itself; start a new export instead)",
            code="HandOverNotFound",
        )
    job = JobState.model_validate(record)
    resumed = job.model_copy(
        update={"polls_in_execution": 0, "continue_as_new": False, "continuations": job.continuations + 1}
    )
    return Exporting(job=resumed)


def hand_over(request: HandOverRequest, handovers: HandOverStore | None, *, now: datetime) -> HandOverResult:
    """Store the running job for its continuation (named ``continuation_name``) under a new ticket."""
    if handovers is None:
        raise ConfigurationError("continuing an export needs the idempotency table (IDEMPOTENCY_TABLE)")
    job = request.hand_over
    ticket = new_ticket()
    name = continuation_name(job)
    handovers.put(
        ticket,
        job.model_dump(mode="json"),
        execution_name=name,
        expires_at=int(now.timestamp()) + HANDOVER_SECONDS,
    )
    return HandOverResult(ticket=ticket, continuation_name=name)


def release(request: ReleaseRequest, guard: ExportGuard) -> ReleaseResult:
    """Forget a failed export as a duplicate: the next identical trigger exports again."""
    return ReleaseResult(released=guard.release(request.release.model_dump(mode="json")))


def start(
    start_input: StartInput,
    clients: Clients,
    *,
    now: datetime,
    guard: ExportGuard | None = None,
    smn: SmnHandler | None = None,
    handovers: HandOverStore | None = None,
) -> StartResult:
    """The start step. InvalidRequestError (before any IAM or IMS call) for an event it cannot
    understand; ``guard`` keeps duplicates from starting a second export; ``smn`` verifies SMN bodies;
    ``handovers`` holds the jobs handed over to continuations."""
    if guard is None:
        from ims_export.steps.export_guard import UnguardedExport  # noqa: PLC0415 - see the TYPE_CHECKING note

        guard = UnguardedExport()
    kind = start_input.kind()
    if kind == "resume":
        return _resume(start_input, handovers, now)
    if kind == "waiting_for_image" and start_input.waiting is not None:
        waiting = start_input.waiting
        return _start_order(
            check_order(waiting.order, clients.settings),
            checks_so_far=waiting.checks,
            first_started_at=waiting.execution_started_at,
            start_input=start_input,
            clients=clients,
            guard=guard,
            now=now,
        )
    if kind == "smn":
        handled = _smn_order(start_input, smn, clients)
        if isinstance(handled, NotificationHandled):
            return handled
        order = handled
    else:
        order = normalize_event(start_input.event, clients.settings)
    return _start_order(
        order,
        checks_so_far=0,
        first_started_at=now,
        start_input=start_input,
        clients=clients,
        guard=guard,
        now=now,
    )


def _progress(clients: Clients, job: Job) -> float | None:
    if job.process_percent is not None or job.status is not JobStatus.RUNNING:
        return job.process_percent
    try:
        return clients.ims.get_job_progress(job.job_id)
    except ImsExportError:
        return None  # progress is a nicety: never fail (and so repeat) a poll for it


def _deadline_update(previous: JobState, wait: int, now: datetime) -> dict[str, Any]:
    seconds_left = (previous.deadline - now).total_seconds()
    return {
        # Never sleep past the deadline: the timeout must be noticed when it happens.
        "next_wait_seconds": max(1, min(wait, int(seconds_left))),
        "timed_out": seconds_left <= 0,
        "continue_as_new": previous.polls_in_execution + 1 >= previous.max_polls_per_execution,
    }


def _poll_counts(previous: JobState, now: datetime) -> dict[str, Any]:
    elapsed = max((now - previous.started_at).total_seconds(), 0.0)
    return {
        "polls": previous.polls + 1,
        "polls_in_execution": previous.polls_in_execution + 1,
        "elapsed_seconds": round(elapsed, 3),
    }


def _after_unreadable_answer(
    previous: JobState, error: ImsExportError, clients: Clients, now: datetime
) -> Exporting:
    """Count one answer without a job state; wait with backoff, or end a sustained run."""
    last = error.snippet if isinstance(error, MalformedAnswerError) else f"{type(error).__name__}: {error}"
    settings = clients.settings
    count = previous.unreadable_answers + 1
    since = previous.unreadable_since or now
    lasting = (now - since).total_seconds()
    if count >= settings.unreadable_job_answer_limit or lasting >= settings.unreadable_job_answer_seconds:
        raise UnreadableJobAnswer(
            f"job {previous.job_id} exporting image {previous.image_name} ({previous.image_id}) to "
            f"{previous.bucket_url}: {count} job answers in a row over {lasting / 60:.0f} min showed no job "
            f"state (last: {last}). The export may still be running: check job {previous.job_id} "
            f"in the IMS console, or look for {previous.bucket_url} in OBS, before exporting again",
            status=error.status,
        )
    wait = min(settings.poll_min_seconds * 2 ** (count - 1), settings.poll_max_seconds)
    logger.warning(
        "job %s: answer %d in a row without a job state, next query in %d s: %s",
        previous.job_id,
        count,
        wait,
        error.message,
    )
    update = {
        **_poll_counts(previous, now),
        **_deadline_update(previous, wait, now),
        "unreadable_answers": count,
        "unreadable_since": since,
    }
    return Exporting(job=previous.model_copy(update=update))


def check(state: Exporting, clients: Clients, *, now: datetime) -> Exporting:
    """The check step: one job query, and what the state machine should do next."""
    previous = state.job
    try:
        job = clients.ims.get_job(previous.job_id)
    except (UnknownJobStatusError, AuthenticationError):
        # A status nobody documented: polling it could go on forever. Refused credentials: asking IAM
        # again and again with a wrong password would lock the account.
        raise
    except ImsExportError as error:
        # Only a job answer proves that the export ended: a refusal, a redirect, an unknown job (a
        # lagging replica), a timeout or a gone API is counted like an unreadable answer, backed off,
        # and ends the tracking only when it lasts.
        return _after_unreadable_answer(previous, error, clients, now)
    percent = _progress(clients, job)
    counts = _poll_counts(previous, now)
    common: dict[str, Any] = {
        **counts,
        "status": job.status,
        "percent": percent,
        "unreadable_answers": 0,
        "unreadable_since": None,
    }
    if job.status.finished:
        finished = job.end_time or now
        update = {
            **common,
            "finished_at": finished,
            "error_code": job.error_code,
            "fail_reason": job.fail_reason,
            "next_wait_seconds": 0,
        }
        return Exporting(job=previous.model_copy(update=update))
    settings = clients.settings
    wait = choose_next_wait(
        elapsed_seconds=counts["elapsed_seconds"],
        percent=percent,
        image_size_bytes=previous.image_size_bytes,
        min_seconds=settings.poll_min_seconds,
        max_seconds=settings.poll_max_seconds,
    )
    update = {**common, **_deadline_update(previous, wait, now)}
    return Exporting(job=previous.model_copy(update=update))


class RefreshInput(BaseModel):
    """The scheduled refresher's event: its content does not matter (a schedule or a manual call)."""

    model_config = ConfigDict(extra="allow")


def refresh_token(clients: Clients, *, margin_seconds: int) -> RefreshReport:
    """Refresh the cached token if less than ``margin_seconds`` of validity is left."""
    margin = max(margin_seconds, clients.settings.token_refresh_margin_seconds)
    return clients.tokens.refresh_if_needed(margin)
