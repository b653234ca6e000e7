"""``make follow``: an execution that resumes polling a running IMS export job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from localdev.runner.errors import RunError

if TYPE_CHECKING:
    from ims_export.runtime import Clients


@dataclass(frozen=True)
class FollowRequest:
    """``make follow``: poll a running IMS export job to its end, as the state machine would have."""

    job_id: str
    image_id: str | None = None
    bucket_url: str | None = None


def follow_input(request: FollowRequest, clients: Clients) -> tuple[str, dict[str, Any]]:
    """The name and input of an execution that resumes polling ``request.job_id``: the state machine's
    own continue-as-new, with a one-time hand-over record in the (local) idempotency table."""
    from ims_export.cloud.ims_api import check_job_id
    from ims_export.errors import ImsExportError
    from ims_export.steps.continuation import hand_over
    from ims_export.steps.handover import dynamodb_handover_store
    from ims_export.steps.states import HandOverRequest, JobState

    try:
        job = clients.ims.get_job(check_job_id(request.job_id))
    except ImsExportError as error:
        raise RunError(f"cannot follow job {request.job_id}: {error}") from None
    image_id = job.entities.image_id or request.image_id
    if not image_id:
        raise RunError(f"IMS does not name the image of job {request.job_id}: pass IMAGE=<image id>")
    now = clients.clock()
    started_at = job.begin_time or now
    settings = clients.settings  # the start function's environment: the template's limits
    state = JobState(
        job_id=job.job_id,
        image_id=image_id,
        image_name=job.entities.image_name or "",
        bucket_url=request.bucket_url or "",
        started_at=started_at,
        deadline=started_at + timedelta(seconds=settings.execution_timeout_seconds),
        max_polls_per_execution=settings.max_polls_per_execution,
        status=job.status,
        percent=job.process_percent,
    )
    table = settings.idempotency_table
    handed = hand_over(
        HandOverRequest(hand_over=state), dynamodb_handover_store(table) if table else None, now=now
    )
    return handed.continuation_name, {"resume": {"ticket": handed.ticket}}
