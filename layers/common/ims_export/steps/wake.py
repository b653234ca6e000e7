"""Completion signalled, not only polled: OBS notifications wake a waiting export. This module holds the
waiting export's rules (the check step's); ``steps.waking``, the notification's side.

While a job runs (``WAKE_ON_OBS_NOTIFICATION``), the state machine waits in a callback task
(``WaitForObject``: ``aws-sdk:dynamodb:putItem.waitForTaskToken``) that stores its task token under
the export's object (``wake_record_id``) and times out after the wait the check step chose, so polling
stays the safety net: OBS sends nothing for a failed upload, and SMN may lose or delay a message.

An OBS notification reaches the SMN endpoint like any SMN message and is verified first; each created
object becomes one wake (``steps.waking``): the state machine reads the record of exactly that bucket and key
and, if an export waits there, sends its token the notice (``sfn:sendTaskSuccess``). A notice only ends
the wait: the check that follows asks IMS, and only the job's answer decides. A key that only resembles
the export's, or another bucket's, has another record id and finds nothing; a redelivery finds a token
already used (``TaskTimedOut``/``InvalidToken``), which ends the wake and nothing else.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from ims_export.settings import Settings
from ims_export.steps.job_state import JobState, ObjectNotice, WaitRegistration

RECORD_PREFIX = "wake"
# A record outlives its wait by this much: a notification a little late still finds the token (the
# callback then answers TaskTimedOut, which is harmless), and the table's TTL removes it after.
RECORD_MARGIN_SECONDS = 600


def wake_record_id(bucket: str, key: str) -> str:
    """The record a waiting export's token is stored under: one per exact bucket and key."""
    digest = hashlib.sha256(f"{bucket}\n{key}".encode()).hexdigest()
    return f"{RECORD_PREFIX}#{digest}"


# After a notice, IMS is finishing the job: the check comes this long after the notice
# (``SettleAfterNotice``), so that one check mostly finds the job ended; then, while it still runs, this
# many checks come this soon, then the adaptive schedule again (a notice, genuine or not, never makes an
# export poll fast for long: 8 checks at most).
NOTICE_SETTLE_SECONDS = 15
NOTICED_WAIT_SECONDS = 10
NOTICED_CHECKS = 8
# A notice of an object written this long before the export began is an earlier object's.
NOTICE_SKEW_SECONDS = 60
# The error of a registration refused because the record says a notice came first (WakeExports marked
# it ``seen``): the aws-sdk integration's name, and the optimized integration's spelling.
SEEN_BEFORE_THE_WAIT = frozenset(
    {"DynamoDb.ConditionalCheckFailedException", "DynamoDB.ConditionalCheckFailedException"}
)


def why_no_notice_can_come(job: JobState, settings: Settings) -> str | None:
    """Why no notice can end this export's waits although WAKE_ON_OBS_NOTIFICATION is on (None: one
    can, or the setting is off): it needs a table for the token, an SMN topic whose notifications are
    acted on, and the export going to EXPORT_BUCKET, the bucket wired to notify."""
    if not settings.wake_on_obs_notification:
        return None
    if settings.idempotency_table is None:
        return "IDEMPOTENCY_TABLE is not set, so a wait's token has nowhere to be stored"
    if not settings.smn_allowed_topic_urns:
        return (
            "no SMN topic is allowed (SMN_ALLOWED_TOPIC_URNS, the stack's SmnAllowedTopicUrns), so no "
            "OBS notification is acted on"
        )
    if job.target.bucket != settings.export_bucket:
        return (
            f"its bucket {job.target.bucket} is not EXPORT_BUCKET ({settings.export_bucket or 'unset'}), "
            "the bucket wired to notify"
        )
    return None


def notice_expected(job: JobState, settings: Settings) -> bool:
    """The next wait can be ended by a notice: waking is on and can work for this export, and no notice
    came yet."""
    return (
        settings.wake_on_obs_notification
        and job.noticed is None
        and why_no_notice_can_come(job, settings) is None
    )


def first_wait(job: JobState, settings: Settings) -> int:
    """The wait between the export call and the first check: POLL_MIN_SECONDS, or with a notice expected
    the long one (``WAKE_MAX_WAIT_SECONDS``), since the notice ends it and the schedule is only the
    safety net. The pre-flight refused some failures a first check would find early (no bucket, another
    region or storage class, the object there); any other (IMS's access to OBS or KMS, a quota, the
    image itself) is seen only when that wait runs its course, as OBS sends nothing for it."""
    if notice_expected(job, settings):
        return max(settings.poll_min_seconds, settings.wake_max_wait_seconds)
    return settings.poll_min_seconds


def next_wait(job: JobState, settings: Settings, adaptive_wait: int) -> int:
    """The wait after a check of a running job: the adaptive one without notices; a short one for a few
    checks after a notice; with a notice expected, long (``WAKE_MAX_WAIT_SECONDS``), since the notice
    ends it when the object is written and the schedule is only the safety net."""
    if job.noticed is not None:
        after = job.polls - (job.noticed_at_poll if job.noticed_at_poll is not None else job.polls)
        return min(adaptive_wait, NOTICED_WAIT_SECONDS) if after < NOTICED_CHECKS else adaptive_wait
    if notice_expected(job, settings):
        return max(adaptive_wait, settings.wake_max_wait_seconds)
    return adaptive_wait


def notice_of_wake(woken: Any, job: JobState) -> ObjectNotice | None:
    """The notice that ended the last wait, if it is one for this export's object (None: the wait ended
    on its own, or with something that is no notice of it: the check then decides as any check does)."""
    if woken is None:
        return None
    bucket, key = job.target.bucket, job.target.object_name
    if isinstance(woken, dict) and woken.get("Error") in SEEN_BEFORE_THE_WAIT:
        return ObjectNotice(
            bucket=bucket, key=key, event_name="ObjectCreated (before the wait)", message_id=""
        )
    try:
        notice = ObjectNotice.model_validate(woken)
    except ValueError:
        return None
    if (notice.bucket, notice.key) != (bucket, key):
        return None
    if notice.event_time is not None and notice.event_time < job.started_at - timedelta(
        seconds=NOTICE_SKEW_SECONDS
    ):
        return None
    return notice


def wait_registration(
    job: JobState, settings: Settings, *, now: datetime, wait_seconds: int
) -> WaitRegistration | None:
    """Where the next wait stores its task token (None: a plain wait)."""
    table = settings.idempotency_table
    if table is None or not notice_expected(job, settings):
        # Off, or nowhere to store the token, or already noticed (a second notice would only cost polls).
        return None
    target = job.target
    expires = int(now.timestamp()) + wait_seconds + RECORD_MARGIN_SECONDS
    record_id = wake_record_id(target.bucket, target.object_name)
    return WaitRegistration(
        table=table, record_id=record_id, expires_at=str(expires), settle_seconds=NOTICE_SETTLE_SECONDS
    )
