"""What a wait's early end may change: a notice of this export's object, written after it began, makes
a few checks come soon; anything else changes nothing; long waits only where a notice can come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ims_export.settings import Settings
from ims_export.steps.job_state import JobState, ObjectNotice
from ims_export.steps.wake import (
    NOTICE_SETTLE_SECONDS,
    NOTICED_CHECKS,
    NOTICED_WAIT_SECONDS,
    first_wait,
    next_wait,
    notice_expected,
    notice_of_wake,
    wait_registration,
    why_no_notice_can_come,
)

STARTED = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
BUCKET, KEY = "ims-export-demo", "exports/web.qcow2"
WAKING = Settings(
    wake_on_obs_notification=True,
    idempotency_table="ims-export-idempotency",
    smn_allowed_topic_urns=("urn:smn:eu-de:0a41aaaabbbbccccddddeeeeffff0000:obs",),
    export_bucket=BUCKET,
)


def job(**changes: Any) -> JobState:
    state = JobState(
        job_id="job-1",
        image_id="5b4c8f0e-3a1d-4e7b-9c2a-1f6d8e9a0b11",
        image_name="web",
        bucket_url=f"{BUCKET}:{KEY}",
        started_at=STARTED,
        deadline=STARTED + timedelta(hours=48),
        max_polls_per_execution=2000,
    )
    return state.model_copy(update=changes)


def notice(**changes: Any) -> dict[str, Any]:
    fields = {
        "bucket": BUCKET,
        "key": KEY,
        "event_name": "ObjectCreated:Put",
        "event_time": (STARTED + timedelta(minutes=30)).isoformat(),
        "message_id": "m-1",
    }
    return {**fields, **changes}


def test_a_notice_of_this_object_written_after_the_start_counts() -> None:
    found = notice_of_wake(notice(), job())
    assert found is not None and (found.bucket, found.key) == (BUCKET, KEY)


@pytest.mark.parametrize(
    "woken",
    [
        notice(key="exports/web.qcow2.part"),
        notice(bucket="another-bucket"),
        notice(event_time=(STARTED - timedelta(hours=2)).isoformat()),  # an earlier export's object
        {"bogus": 1},
        "text",
        [notice()],
        {"Error": "States.TaskFailed"},
    ],
    ids=[
        "resembling-key",
        "other-bucket",
        "written-before-the-export",
        "bogus",
        "text",
        "list",
        "other-error",
    ],
)
def test_anything_else_is_no_notice(woken: Any) -> None:
    assert notice_of_wake(woken, job()) is None


def test_a_registration_refused_by_an_earlier_notice_counts_as_one() -> None:
    refused = {"Error": "DynamoDb.ConditionalCheckFailedException", "Cause": "The conditional request failed"}
    found = notice_of_wake(refused, job())
    assert found is not None and found.event_name == "ObjectCreated (before the wait)"


def test_after_a_notice_a_few_checks_come_soon_then_the_schedule_again() -> None:
    noticed = ObjectNotice.model_validate(notice())
    soon = job(noticed=noticed, noticed_at_poll=5, polls=5 + NOTICED_CHECKS - 1)
    later = job(noticed=noticed, noticed_at_poll=5, polls=5 + NOTICED_CHECKS)
    assert next_wait(soon, WAKING, adaptive_wait=300) == NOTICED_WAIT_SECONDS
    assert next_wait(later, WAKING, adaptive_wait=300) == 300


def test_long_waits_only_where_a_notice_can_come() -> None:
    assert notice_expected(job(), WAKING)
    assert next_wait(job(), WAKING, adaptive_wait=300) == WAKING.wake_max_wait_seconds
    elsewhere = job(bucket_url=f"another-bucket:{KEY}")
    no_topic = WAKING.model_copy(update={"smn_allowed_topic_urns": ()})
    off = WAKING.model_copy(update={"wake_on_obs_notification": False})
    for state, settings in ((elsewhere, WAKING), (job(), no_topic), (job(), off)):
        assert not notice_expected(state, settings)
        assert next_wait(state, settings, adaptive_wait=300) == 300


def test_the_first_wait_is_long_only_where_a_notice_can_end_it() -> None:
    # Without a notice to come, the first check finds an early failure soon; with one, the pre-flight
    # refused the foreseeable failures and the notice ends the wait, so the check comes only then.
    assert first_wait(job(), WAKING) == WAKING.wake_max_wait_seconds
    off = WAKING.model_copy(update={"wake_on_obs_notification": False})
    assert first_wait(job(), off) == off.poll_min_seconds
    assert first_wait(job(bucket_url=f"another-bucket:{KEY}"), WAKING) == WAKING.poll_min_seconds


def test_a_registered_wait_tells_the_state_machine_to_settle_after_a_notice() -> None:
    registration = wait_registration(job(), WAKING, now=STARTED, wait_seconds=3600)
    assert registration is not None
    assert registration.settle_seconds == NOTICE_SETTLE_SECONDS
    assert int(registration.expires_at) > STARTED.timestamp() + 3600


def test_a_switch_that_cannot_work_for_an_export_says_why() -> None:
    assert why_no_notice_can_come(job(), WAKING) is None
    off = WAKING.model_copy(update={"wake_on_obs_notification": False})
    assert why_no_notice_can_come(job(), off) is None  # off: nothing to explain
    reasons = {
        "IDEMPOTENCY_TABLE": (job(), WAKING.model_copy(update={"idempotency_table": None})),
        "SMN_ALLOWED_TOPIC_URNS": (job(), WAKING.model_copy(update={"smn_allowed_topic_urns": ()})),
        "another-bucket is not EXPORT_BUCKET": (job(bucket_url=f"another-bucket:{KEY}"), WAKING),
    }
    for named, (state, settings) in reasons.items():
        reason = why_no_notice_can_come(state, settings)
        assert reason is not None and named in reason
        assert not notice_expected(state, settings)
