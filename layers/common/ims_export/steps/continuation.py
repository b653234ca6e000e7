"""Continue-as-new: store a running job for the execution that continues it, and claim it there."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from ims_export.errors import (
    ConfigurationError,
    HandOverNotFoundError,
)
from ims_export.parsing import parse_model
from ims_export.steps.handover import HANDOVER_SECONDS, new_ticket
from ims_export.steps.states import (
    Exporting,
    HandOverRequest,
    HandOverResult,
    JobState,
    ResumeInput,
    StartInput,
    continuation_name,
)

if TYPE_CHECKING:
    # The DynamoDB store is built on first use (steps.handover): by a hand-over, or a continuation's start.
    from ims_export.steps.handover import HandOverStore

logger = logging.getLogger(__name__)


def resume(start_input: StartInput, handovers: HandOverStore | None, now: datetime) -> Exporting:
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
    name = continuation_name(job, ticket)
    handovers.put(
        ticket,
        job.model_dump(mode="json"),
        execution_name=name,
        expires_at=int(now.timestamp()) + HANDOVER_SECONDS,
    )
    return HandOverResult(ticket=ticket, continuation_name=name)
