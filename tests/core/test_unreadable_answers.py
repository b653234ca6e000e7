"""The check step under job answers without a job state: counted, backed off, ended only when sustained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ims_export.domain.jobs import JobStatus
from ims_export.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    ImsRequestError,
    JobNotFoundError,
    MalformedAnswerError,
    UnknownJobStatusError,
    UnreadableJobAnswer,
    UpstreamTimeoutError,
)
from ims_export.steps.check import check
from ims_export.steps.states import Exporting, JobState
from tests.workflow.fakes import IMAGE_ID, JOB_ID, FakeIms, FakeTokens, make_clients, make_job, make_settings

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
SNIPPET = "<html><body>Service is busy</body></html>"


def exporting() -> Exporting:
    job = JobState(
        job_id=JOB_ID,
        image_id=IMAGE_ID,
        image_name="web",
        bucket_url="ims-export-demo:exports/web.qcow2",
        started_at=NOW,
        deadline=NOW + timedelta(days=2),
        max_polls_per_execution=2000,
        status=JobStatus.RUNNING,
    )
    return Exporting(job=job)


def malformed() -> MalformedAnswerError:
    return MalformedAnswerError(f"get job {JOB_ID}: not JSON: {SNIPPET}", snippet=SNIPPET, status=200)


def poll(state: Exporting, ims: FakeIms, now: datetime, **settings: int) -> Exporting:
    return check(state, make_clients(ims, make_settings(**settings)), now=now)


def test_an_unreadable_answer_is_counted_and_backed_off() -> None:
    ims = FakeIms(tokens=FakeTokens())
    ims.fail_next("get_job", malformed(), malformed())
    ims.script_jobs([make_job("RUNNING")])
    first = poll(exporting(), ims, NOW)
    second = poll(first, ims, NOW + timedelta(seconds=15))
    assert (first.job.unreadable_answers, first.job.next_wait_seconds) == (1, 15)
    assert (second.job.unreadable_answers, second.job.next_wait_seconds) == (2, 30)
    assert second.job.unreadable_since == NOW
    assert second.job.status is JobStatus.RUNNING  # the last state that was read
    assert second.job.polls == 2
    readable = poll(second, ims, NOW + timedelta(seconds=45))
    assert (readable.job.unreadable_answers, readable.job.unreadable_since) == (0, None)


def test_a_run_of_unreadable_answers_ends_at_the_limit() -> None:
    ims = FakeIms(tokens=FakeTokens())
    ims.fail_next("get_job", *(malformed() for _ in range(3)))
    state, now = exporting(), NOW
    for _ in range(2):
        state = poll(state, ims, now, unreadable_job_answer_limit=3)
        now += timedelta(seconds=state.job.next_wait_seconds)
    with pytest.raises(UnreadableJobAnswer) as raised:
        poll(state, ims, now, unreadable_job_answer_limit=3)
    message = raised.value.message
    assert SNIPPET in message
    assert "may still be running" in message
    assert JOB_ID in message
    assert IMAGE_ID in message
    assert "ims-export-demo:exports/web.qcow2" in message


def test_a_run_of_unreadable_answers_ends_after_the_configured_time() -> None:
    ims = FakeIms(tokens=FakeTokens())
    ims.fail_next("get_job", malformed(), malformed())
    state = poll(exporting(), ims, NOW, unreadable_job_answer_seconds=600)
    with pytest.raises(UnreadableJobAnswer, match="10 min"):
        poll(state, ims, NOW + timedelta(seconds=600), unreadable_job_answer_seconds=600)


def test_the_backoff_never_waits_past_the_poll_maximum() -> None:
    ims = FakeIms(tokens=FakeTokens())
    ims.fail_next("get_job", *(malformed() for _ in range(8)))
    state = exporting()
    for _ in range(8):
        state = poll(state, ims, NOW, poll_max_seconds=120)
    assert state.job.next_wait_seconds == 120


ODD_ANSWERS = {
    "unknown job (404)": JobNotFoundError("get job: IMS does not know this job", code="IMG.0404", status=404),
    "redirect (302)": ImsRequestError("get job: HTTP 302 Found", status=302),
    "refused (403)": AuthorizationError("get job: IMG.0026 role invalid", code="IMG.0026", status=403),
    "both job APIs gone": ConfigurationError("get job: neither IMS job API exists"),
    "timeout": UpstreamTimeoutError("get job: no answer within 20 s"),
}


@pytest.mark.parametrize("error", list(ODD_ANSWERS.values()), ids=list(ODD_ANSWERS))
def test_an_error_of_the_job_query_never_ends_the_tracking_at_once(error: Exception) -> None:
    ims = FakeIms(tokens=FakeTokens())
    ims.fail_next("get_job", error)
    ims.script_jobs([make_job("SUCCESS")])
    first = poll(exporting(), ims, NOW)
    assert first.job.unreadable_answers == 1
    assert first.job.status is JobStatus.RUNNING
    ended = poll(first, ims, NOW + timedelta(seconds=first.job.next_wait_seconds))
    assert ended.job.status is JobStatus.SUCCESS


def test_a_lasting_error_ends_naming_it_and_saying_the_export_may_run() -> None:
    ims = FakeIms(tokens=FakeTokens())
    ims.fail_next("get_job", *(ODD_ANSWERS["unknown job (404)"] for _ in range(2)))
    state = poll(exporting(), ims, NOW, unreadable_job_answer_limit=2)
    with pytest.raises(UnreadableJobAnswer) as raised:
        poll(state, ims, NOW + timedelta(seconds=30), unreadable_job_answer_limit=2)
    assert "JobNotFoundError" in raised.value.message
    assert "may still be running" in raised.value.message


def test_an_undocumented_status_still_ends_at_once() -> None:
    ims = FakeIms(tokens=FakeTokens())
    ims.fail_next("get_job", UnknownJobStatusError("job status 'PAUSED' is not documented"))
    with pytest.raises(UnknownJobStatusError):
        poll(exporting(), ims, NOW)


def test_refused_credentials_end_at_once_so_that_iam_never_locks_the_account() -> None:
    ims = FakeIms(tokens=FakeTokens())
    ims.fail_next("get_job", AuthenticationError("IAM.0062: incorrect password", code="IAM.0062"))
    with pytest.raises(AuthenticationError):
        poll(exporting(), ims, NOW)
