"""The check step: query the job once and say whether it ended, timed out, must continue in a new
execution, and how long to wait before the next query.

An answer that shows no job state is counted and retried with backoff; only a sustained run of them
ends the export (``UnreadableJobAnswer``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ims_export.domain.jobs import Job, JobStatus
from ims_export.domain.polling import choose_next_wait
from ims_export.errors import (
    AuthenticationError,
    ImsExportError,
    MalformedAnswerError,
    UnknownJobStatusError,
    UnreadableJobAnswer,
)
from ims_export.runtime import Clients
from ims_export.steps.job_state import Exporting, JobState
from ims_export.steps.wake import next_wait, notice_of_wake, wait_registration

logger = logging.getLogger(__name__)


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
        "continue_as_new": previous.polls_in_execution + 1 >= _polls_per_execution(previous),
    }


def _polls_per_execution(job: JobState) -> int:
    """MAX_POLLS_PER_EXECUTION counts plain waits (about 9 history events a poll); a callback wait
    (WaitForObject) costs about 13, so fewer polls fit below the 25,000-event limit."""
    if job.wake is None:
        return job.max_polls_per_execution
    return max(1, job.max_polls_per_execution * 9 // 13)


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
            f"job {previous.job_id} exporting {previous.subject}: {count} job answers in a row over "
            f"{lasting / 60:.0f} min showed no job "
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
    update["wake"] = wait_registration(previous, settings, now=now, wait_seconds=update["next_wait_seconds"])
    return Exporting(job=previous.model_copy(update=update))


def check(state: Exporting, clients: Clients, *, now: datetime) -> Exporting:
    """The check step: one job query, and what the state machine should do next."""
    previous = state.job
    notice = previous.noticed or notice_of_wake(state.woken, previous)
    if notice is not previous.noticed:  # this check follows the notice
        previous = previous.model_copy(update={"noticed": notice, "noticed_at_poll": previous.polls + 1})
    try:
        job = clients.ims.get_job(previous.job_id)
    except (UnknownJobStatusError, AuthenticationError) as error:
        # A status nobody documented: polling it could go on forever. Refused credentials: asking IAM
        # again and again with a wrong password would lock the account.
        error.naming(previous.subject)
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
            "wake": None,
        }
        # A SUCCESS goes on to the verify and retire steps (each its own task): this step only polls.
        return Exporting(job=previous.model_copy(update=update))
    settings = clients.settings
    adaptive_wait = choose_next_wait(
        elapsed_seconds=counts["elapsed_seconds"],
        percent=percent,
        image_size_bytes=previous.image_size_bytes,
        min_seconds=settings.poll_min_seconds,
        max_seconds=settings.poll_max_seconds,
    )
    wait = next_wait(previous, settings, adaptive_wait)
    update = {**common, **_deadline_update(previous, wait, now)}
    update["wake"] = wait_registration(previous, settings, now=now, wait_seconds=update["next_wait_seconds"])
    return Exporting(job=previous.model_copy(update=update))
