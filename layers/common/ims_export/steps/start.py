"""The start step: normalize the trigger, check the image, start the export.

It reports that the image is still being created (the state machine waits and calls ``start`` again),
or resumes a job handed over by a previous execution (continue-as-new; only with a hand-over record, see
``continuation``). With an idempotency table, the export call waits for its duplicate claims, which the
state machine makes (``export_guard``): the step answers ``Claiming`` and is called again with the
answer, until it POSTs (then ``Recording`` the job on the claims), or a duplicate trigger ends as
``Duplicate`` naming the first job and what became of it, or a retried step of the same execution
polls that job.
A delivery to the SMN endpoint (``{"smn_body": "<raw body>"}``) can act only once its signature
verifies: it either names the image to export or is handled on its own (``NotificationHandled``);
anything else on that path is an ``SmnMessageRefusedError``, before any IAM or IMS call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from ims_export.domain.export_request import ExportTarget, export_subject
from ims_export.domain.exportability import check_exportable, parent_image_id_to_check
from ims_export.domain.images import Image
from ims_export.domain.jobs import JobStatus
from ims_export.errors import (
    ConfigurationError,
    ExportAlreadyRunningError,
    ExportStateUnknown,
    ImageNotFoundError,
    ImageNotReadyError,
    ImsExportError,
    InvalidRequestError,
    JobNotFoundError,
    SignatureVerificationError,
    SmnMessageRefusedError,
)
from ims_export.parsing import parse_model
from ims_export.runtime import Clients
from ims_export.settings import Settings
from ims_export.steps.export_guard import (
    ExportClaims,
    OriginalStatus,
    PostExport,
    export_claims,
    first_pending,
)
from ims_export.steps.states import (
    Claiming,
    Duplicate,
    Exporting,
    JobState,
    NotificationHandled,
    PendingExport,
    Recording,
    SmnDelivery,
    StartInput,
    StartResult,
    WaitingForClaim,
    WaitingForImage,
)
from ims_export.steps.wake import first_wait, wait_registration, why_no_notice_can_come
from ims_export.steps.waking import Waking, wakes_of
from ims_export.triggers.events import event_kind
from ims_export.triggers.orders import (
    ExportOrder,
    build_export_request,
    check_order,
    normalize_event,
    smn_order,
)

if TYPE_CHECKING:
    # Off the cold path of the check step: the SMN verifier (cryptography) is imported by the start
    # step only, where it is used.
    from ims_export.smn.delivery import SmnOutcome
    from ims_export.smn.handler import SmnHandler
    from ims_export.steps.handover import HandOverStore

logger = logging.getLogger(__name__)


def _fetch_parent(clients: Clients, image: Image) -> Image | None:
    parent_id = parent_image_id_to_check(image)
    if parent_id is None:
        return None
    try:
        return clients.ims.get_image(parent_id)
    except ImageNotFoundError:
        return None  # not visible to this project: no public parent to hold against the image


def _export_call(pending: PendingExport, clients: Clients, *, retried: bool) -> str:
    """The export call; the IMS job id. IMS has no job list: a retried call that meets IMG.0148 cannot tell
    its own earlier attempt's export (answer lost) from another one, so it says both, and how to check."""
    try:
        return clients.ims.export_image(pending.request)
    except ExportAlreadyRunningError as error:
        if not retried:
            raise
        request = pending.request
        raise ExportStateUnknown(
            "IMS is exporting this image already (IMG.0148), and this start step was retried after an "
            "attempt whose answer was lost: the running export is probably the one that attempt started, "
            "and nothing tracks it. Look for the image's export job in the IMS console (then make follow "
            f"JOB=<its id> IMAGE={request.image_id} follows it), or wait for the object in OBS, before "
            "exporting it again",
            status=error.status,
        ) from None


def _post_export(pending: PendingExport, clients: Clients, now: datetime, *, retried: bool) -> JobState:
    """The target's pre-flight, then the export call itself; the job descriptor of what it started."""
    from ims_export.steps.preflight import check_target  # noqa: PLC0415 - OBS and XML only where a POST follows

    request = pending.request
    warnings = check_target(request, clients)
    job_id = _export_call(pending, clients, retried=retried)
    job = JobState(
        job_id=job_id,
        image_id=request.image_id,
        image_name=pending.image_name,
        image_size_bytes=pending.image_size_bytes,
        **request.target.fields(),
        started_at=now,
        deadline=pending.deadline,
        max_polls_per_execution=clients.settings.max_polls_per_execution,
        next_wait_seconds=clients.settings.poll_min_seconds,
        warnings=warnings,
    )
    unwakeable = why_no_notice_can_come(job, clients.settings)
    if unwakeable is not None:  # the switch is on, and would silently do nothing for this export
        warning = f"WAKE_ON_OBS_NOTIFICATION is on, but this export waits on the poll schedule: {unwakeable}"
        logger.warning("%s: %s", job.subject, warning)
        job = job.model_copy(update={"warnings": (*job.warnings, warning)})
    # With a notice expected, the first wait is the long one the notice ends (never past the deadline).
    seconds_left = int((pending.deadline - now).total_seconds())
    wait = max(1, min(first_wait(job, clients.settings), seconds_left))
    registration = wait_registration(job, clients.settings, now=now, wait_seconds=wait)
    return job.model_copy(update={"next_wait_seconds": wait, "wake": registration})


@contextmanager
def _naming_the_export(image_id: str, named: list[ExportTarget]) -> Iterator[None]:
    """The outcome of a failed start carries the error's message only: it must say what failed. The
    target is named as soon as it is known (``named``: once the request is decided)."""
    try:
        yield
    except ImsExportError as error:
        target = named[0] if named else None
        error.naming(
            export_subject(
                image_id,
                bucket_url=target.bucket_url if target else None,
                file_format=target.format_words if target else None,
            )
        )
        raise


def _start_order(
    order: ExportOrder,
    *,
    checks_so_far: int,
    first_started_at: datetime,
    start_input: StartInput,
    clients: Clients,
    now: datetime,
) -> Exporting | WaitingForImage | Claiming:
    """Check the image and start its export (or claim it first); an error names the image and target."""
    named: list[ExportTarget] = []
    with _naming_the_export(order.image_id, named):
        return _start_named_order(
            order,
            named=named,
            checks_so_far=checks_so_far,
            first_started_at=first_started_at,
            start_input=start_input,
            clients=clients,
            now=now,
        )
    raise AssertionError("unreachable")  # pragma: no cover - for mypy: the block returns or raises


def _start_named_order(
    order: ExportOrder,
    *,
    named: list[ExportTarget],
    checks_so_far: int,
    first_started_at: datetime,
    start_input: StartInput,
    clients: Clients,
    now: datetime,
) -> Exporting | WaitingForImage | Claiming:
    settings = clients.settings
    image = clients.ims.get_image(order.image_id)
    # A retried step renders the same default object name as its first attempt did.
    named_at = start_input.execution_started_at or now
    request = build_export_request(order, image_name=image.name, settings=settings, now=named_at)
    named.append(request.target)
    try:
        check_exportable(
            image, request, project_id=clients.project_id(), parent=_fetch_parent(clients, image)
        )
    except ImageNotReadyError:
        checks = checks_so_far + 1
        if not image.status.pending or checks >= settings.max_image_checks:
            raise
        return WaitingForImage(
            order=order,
            image_name=image.name,
            bucket_url=request.bucket_url,
            image_status=image.status.value,
            checks=checks,
            wait_seconds=settings.poll_min_seconds,
            execution_started_at=first_started_at,
        )
    # The deadline counts from the execution's start: waiting for the image uses up the same budget.
    pending = first_pending(
        request,
        image_name=image.name,
        image_size_bytes=image.size_bytes or None,
        deadline=first_started_at + timedelta(seconds=settings.execution_timeout_seconds),
        delivery_id=order.delivery_id,
    )
    claims = export_claims(settings)
    if claims is None:  # no idempotency table: every trigger exports
        return Exporting(job=_post_export(pending, clients, now, retried=start_input.retry_count > 0))
    return claims.claim(pending, execution=start_input.execution_id, now=now)


def _go_on_claiming(
    state: Claiming | WaitingForClaim, start_input: StartInput, clients: Clients, now: datetime
) -> Claiming | WaitingForClaim | Recording | Exporting | Duplicate:
    """The state machine ran a claim (or waited for one): claim the next, POST, wait or end."""
    pending = state.pending
    with _naming_the_export(pending.request.image_id, [pending.request.target]):
        claims: ExportClaims | None = export_claims(clients.settings)
        if claims is None:
            raise ConfigurationError("claiming an export needs the idempotency table (IDEMPOTENCY_TABLE)")
        execution = start_input.execution_id
        if isinstance(state, WaitingForClaim):
            return claims.claim(pending, execution=execution, now=now)
        step = claims.proceed(
            state, execution=execution, now=now, status_of=lambda job: original_status(clients, job)
        )
        if not isinstance(step, PostExport):
            return step
        job = _post_export(step.pending, clients, now, retried=start_input.retry_count > 0)
        return claims.recorded(step.pending, job, execution=execution, now=now)
    raise AssertionError("unreachable")  # pragma: no cover - for mypy: the block returns or raises


def original_status(clients: Clients, record: Any) -> OriginalStatus:
    """What became of the job of a found export record, as IMS tells it."""
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


def _waking(outcome: SmnOutcome, settings: Settings, *, now: datetime) -> Waking | NotificationHandled:
    """The wakes of an OBS notification's created objects; none while waking is off."""
    base = {"topic_urn": outcome.topic_urn, "message_id": outcome.message_id}
    table = settings.idempotency_table
    if not settings.wake_on_obs_notification or table is None:
        detail = f"{outcome.detail}: WAKE_ON_OBS_NOTIFICATION is off, so no export waits for one"
        return NotificationHandled(action="ignored", detail=detail, **base)
    return Waking(wakes=wakes_of(outcome, settings, table, now=now), detail=outcome.detail, **base)


def _smn_order(
    start_input: StartInput, smn: SmnHandler | None, clients: Clients
) -> ExportOrder | NotificationHandled | Waking:
    """Verify the delivery to the SMN endpoint; every refusal is an SmnMessageRefusedError."""
    try:
        delivery = parse_model(SmnDelivery, start_input.event)
        if smn is None:
            raise InvalidRequestError("SMN messages are not accepted here", code="SmnNotConfigured")
        outcome = smn(delivery.smn_body)
    except SmnMessageRefusedError:
        raise
    except SignatureVerificationError as error:  # its message says the message was refused, and why
        raise SmnMessageRefusedError(error.message, code=error.code) from None
    except InvalidRequestError as error:
        raise SmnMessageRefusedError(f"SMN delivery refused: {error.message}", code=error.code) from None
    if outcome.action == "image_created" and outcome.image_id is not None:
        return smn_order(outcome.image_id, clients.settings, message_id=outcome.message_id)
    if outcome.action == "objects_created":
        return _waking(outcome, clients.settings, now=clients.clock())
    action: Literal["subscription_confirmed", "ignored"] = (
        "subscription_confirmed" if outcome.action == "subscription_confirmed" else "ignored"
    )
    return NotificationHandled(
        action=action, topic_urn=outcome.topic_urn, message_id=outcome.message_id, detail=outcome.detail
    )


def start(
    start_input: StartInput,
    clients: Clients,
    *,
    now: datetime,
    smn: SmnHandler | None = None,
    handovers: HandOverStore | None = None,
) -> StartResult:
    """The start step. InvalidRequestError (before any IAM or IMS call) for an event it cannot
    understand; ``smn`` verifies SMN bodies; ``handovers`` holds the jobs handed over to continuations."""
    state = start_input.state
    if isinstance(state, Claiming | WaitingForClaim):
        return _go_on_claiming(state, start_input, clients, now)
    if isinstance(state, WaitingForImage):
        return _start_order(
            check_order(state.order, clients.settings),
            checks_so_far=state.checks,
            first_started_at=state.execution_started_at,
            start_input=start_input,
            clients=clients,
            now=now,
        )
    kind = event_kind(start_input.event)
    if kind == "resume":
        from ims_export.steps.continuation import resume  # noqa: PLC0415 - only continuations resume

        return resume(start_input, handovers, now)
    if kind == "smn":
        handled = _smn_order(start_input, smn, clients)
        if isinstance(handled, NotificationHandled | Waking):
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
        now=now,
    )
