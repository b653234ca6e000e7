"""Completion signalled, not only polled: OBS notifications wake a waiting export.

While a job runs (``WAKE_ON_OBS_NOTIFICATION``), the state machine waits in a callback task
(``WaitForObject``: ``aws-sdk:dynamodb:putItem.waitForTaskToken``) that stores its task token under
the export's object (``wake_record_id``) and times out after the wait the check step chose, so polling
stays the safety net: OBS sends nothing for a failed upload, and SMN may lose or delay a message.

An OBS notification reaches the SMN endpoint like any SMN message and is verified first; each created
object becomes one wake (``Waking``): the state machine reads the record of exactly that bucket and key
and, if an export waits there, sends its token the notice (``sfn:sendTaskSuccess``). A notice only ends
the wait: the check that follows asks IMS, and only the job's answer decides. A key that only resembles
the export's, or another bucket's, has another record id and finds nothing; a redelivery finds a token
already used (``TaskTimedOut``/``InvalidToken``), which ends the wake and nothing else.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from ims_export.domain.export_request import split_bucket_url
from ims_export.settings import Settings
from ims_export.steps.job_state import JobState, ObjectNotice, WaitRegistration

if TYPE_CHECKING:  # the check step, which imports this module, never parses a notification
    from ims_export.domain.obs_notifications import ObjectCreated

RECORD_PREFIX = "wake"
# A record outlives its wait by this much: a notification a little late still finds the token (the
# callback then answers TaskTimedOut, which is harmless), and the table's TTL removes it after.
RECORD_MARGIN_SECONDS = 600


def wake_record_id(bucket: str, key: str) -> str:
    """The record a waiting export's token is stored under: one per exact bucket and key."""
    digest = hashlib.sha256(f"{bucket}\n{key}".encode()).hexdigest()
    return f"{RECORD_PREFIX}#{digest}"


# After a notice, IMS is finishing the job: the next checks come this soon (a plain wait).
NOTICED_WAIT_SECONDS = 10


def notice_expected(job: JobState, settings: Settings) -> bool:
    """The next wait can be ended by a notice: waking is on, the token has a table, none came yet."""
    return (
        settings.wake_on_obs_notification and settings.idempotency_table is not None and job.noticed is None
    )


def next_wait(job: JobState, settings: Settings, adaptive_wait: int) -> int:
    """The wait after a check of a running job: the adaptive one without notices; soon after a notice;
    with a notice expected, long (``WAKE_MAX_WAIT_SECONDS``), since the notice ends it when the object
    is written and the schedule is only the safety net."""
    if job.noticed is not None:
        return min(adaptive_wait, NOTICED_WAIT_SECONDS)
    if notice_expected(job, settings):
        return max(adaptive_wait, settings.wake_max_wait_seconds)
    return adaptive_wait


def wait_registration(
    job: JobState, settings: Settings, *, now: datetime, wait_seconds: int
) -> WaitRegistration | None:
    """Where the next wait stores its task token (None: a plain wait)."""
    table = settings.idempotency_table
    if table is None or not notice_expected(job, settings):
        # Off, or nowhere to store the token, or already noticed (a second notice would only cost polls).
        return None
    bucket, key = split_bucket_url(job.bucket_url)
    expires = int(now.timestamp()) + wait_seconds + RECORD_MARGIN_SECONDS
    return WaitRegistration(table=table, record_id=wake_record_id(bucket, key), expires_at=str(expires))


def notice_of(created: ObjectCreated, message_id: str) -> ObjectNotice:
    return ObjectNotice(
        bucket=created.bucket,
        key=created.key,
        event_name=created.event_name,
        event_time=created.event_time,
        message_id=message_id,
    )
