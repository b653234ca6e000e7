"""After the IMS job said SUCCESS: look at the object in OBS, and retire older exports of the image.

Verification (``VERIFY_EXPORTED_OBJECT``, on by default) obtains temporary credentials from the cached
IAM token, narrowed to the target bucket where the cloud accepts a policy, and sends a signed HEAD of
the object. The credentials live in this call only: never in SSM, the state, the outcome or a log.

- The object is there and was last modified once the export had begun: ``verified``, with its size,
  time and address.
- No object (or no bucket), an empty one, or one last modified before the export began: ``missing``,
  and the export ends as ``ExportObjectMissing``. IMS claimed success and nothing usable is there.
- Verification cannot run (no permission for temporary credentials or for OBS, OBS unreachable or
  failing after a few tries): ``unverified`` with the reason. It never fails the export.

Retention (``RETENTION_COUNT`` > 0) follows a verified export only: it lists the bucket under the
object pattern's fixed prefix and deletes the exports of the same image older than the newest N
(``domain.retention`` chooses; ``RETENTION_DRY_RUN`` only reports). A failed deletion is reported, not
raised.

All of it runs inside the check step's invocation (60 s): OBS and IAM reads wait at most
``READ_TIMEOUT_CAP_SECONDS``, and no call starts after ``TIME_BUDGET_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from ims_export.cloud.http import new_session, timeouts
from ims_export.cloud.obs import ObsClient
from ims_export.cloud.obs_address import ObsAddress
from ims_export.cloud.temporary_credentials import TemporaryCredentialsClient
from ims_export.domain.export_request import split_bucket_url
from ims_export.domain.objects import ObjectInfo, ObjectMissing
from ims_export.domain.retention import listing_prefix, name_expression, select_for_deletion
from ims_export.errors import (
    BucketNotFoundError,
    ImsExportError,
    TransientError,
    UpstreamTimeoutError,
)
from ims_export.runtime import Clients
from ims_export.settings import Settings
from ims_export.steps.job_state import ExportedObject, JobState, RetentionFailure, RetentionReport

logger = logging.getLogger(__name__)

ATTEMPTS = 3  # per call: the first try and two more for a 5xx, a throttle or no answer
FIRST_RETRY_DELAY_SECONDS = 0.5
TIME_BUDGET_SECONDS = 15.0
READ_TIMEOUT_CAP_SECONDS = 10.0
MAX_DELETIONS_PER_EXPORT = 100  # the rest go after the next export
MAX_LISTED = 50  # names in the retention report (the counts are complete)

ResultT = TypeVar("ResultT")


class _Attempts:
    """Bounded retries of transient failures within one time budget, each retry logged."""

    def __init__(self, job: JobState, sleep: Callable[[float], None], monotonic: Callable[[], float]) -> None:
        self._job = job
        self._sleep = sleep
        self._monotonic = monotonic
        self._deadline = monotonic() + TIME_BUDGET_SECONDS

    def time_left(self) -> float:
        return self._deadline - self._monotonic()

    def run(self, operation: str, call: Callable[[], ResultT]) -> ResultT:
        delay = FIRST_RETRY_DELAY_SECONDS
        for attempt in range(1, ATTEMPTS + 1):
            if self.time_left() <= 0:
                raise UpstreamTimeoutError(
                    f"{operation}: the {TIME_BUDGET_SECONDS:.0f} s for OBS are used up"
                )
            try:
                return call()
            except TransientError as error:
                if attempt == ATTEMPTS or self.time_left() <= delay:
                    raise
                logger.warning(
                    "job %s: %s failed (attempt %d of %d), again in %.1f s: %s",
                    self._job.job_id,
                    operation,
                    attempt,
                    ATTEMPTS,
                    delay,
                    error.message,
                )
                self._sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _missing(job: JobState, bucket: str, key: str, url: str, what: str) -> ExportedObject:
    message = (
        f"image {job.image_name} ({job.image_id}), job {job.job_id}: IMS reported SUCCESS, but {what} "
        f"(bucket_url {job.bucket_url}). Nothing usable was exported to {bucket}/{key}: check the bucket "
        f"in the OBS console, then export the image again (this export is released, so a new trigger "
        f"exports again)"
    )
    return ExportedObject(
        bucket=bucket, key=key, url=url, verification="missing", verification_reason=message
    )


def _verified(job: JobState, head: ObjectInfo, bucket: str, url: str) -> ExportedObject:
    """The object HEAD showed: verified if it is this export's, unverified if its age is unknown,
    missing if it is empty or older than the export."""
    key = head.key
    if head.size_bytes == 0:  # no image file is empty: an upload that never wrote anything
        return _missing(job, bucket, key, url, f"the object {bucket}/{key} is empty (0 bytes)")
    # Last-Modified has whole seconds: an object written in the second the export began is new.
    if head.last_modified is not None and head.last_modified < job.started_at.replace(microsecond=0):
        return _missing(
            job,
            bucket,
            key,
            url,
            f"the object {bucket}/{key} was last modified {head.last_modified.isoformat()}, before the "
            f"export began ({job.started_at.isoformat()}): it is not this export's file",
        )
    unknown_age = head.last_modified is None
    return ExportedObject(
        bucket=bucket,
        key=key,
        url=url,
        size_bytes=head.size_bytes,
        last_modified=head.last_modified,
        etag=head.etag,
        verification="unverified" if unknown_age else "verified",
        verification_reason=(
            "OBS answered without a readable Last-Modified: the object's age is unknown"
            if unknown_age
            else None
        ),
    )


def _retention_skipped(settings: Settings, reason: str) -> RetentionReport | None:
    if settings.retention_count == 0:
        return None
    return RetentionReport(
        keep=settings.retention_count, dry_run=settings.retention_dry_run, skipped_reason=reason
    )


def _retire(
    job: JobState, obs: ObsClient, attempts: _Attempts, *, bucket: str, key: str, settings: Settings
) -> RetentionReport:
    """Delete (or, dry run, name) the exports of the image older than the newest ``retention_count``."""
    keep, dry_run, pattern = (
        settings.retention_count,
        settings.retention_dry_run,
        settings.export_object_pattern,
    )
    report: dict[str, Any] = {"keep": keep, "dry_run": dry_run}
    allowed = {settings.export_bucket, *settings.retention_buckets} - {None}
    if bucket not in allowed:
        return RetentionReport(
            **report,
            skipped_reason=f"retention deletes only in EXPORT_BUCKET or RETENTION_BUCKETS "
            f"({', '.join(sorted(b for b in allowed if b)) or 'none set'}), not in {bucket}",
        )
    try:
        report["prefix"] = prefix = listing_prefix(pattern)
        if name_expression(pattern, job.image_id).fullmatch(key) is None:
            return RetentionReport(
                **report,
                skipped_reason=f"{key} is not a name of EXPORT_OBJECT_PATTERN {pattern!r}: retention "
                "retires only exports named by the pattern",
            )
        listing = attempts.run(f"list {bucket} under {prefix!r}", lambda: obs.list_objects(bucket, prefix))
    except ImsExportError as error:
        logger.warning("job %s: retention did not run: %s", job.job_id, error)
        return RetentionReport(**report, skipped_reason=str(error))
    doomed = [
        item.key for item in select_for_deletion(pattern, job.image_id, listing, keep=keep, just_written=key)
    ]
    if dry_run:
        logger.info(
            "job %s: retention (dry run) would delete %d objects: %s", job.job_id, len(doomed), doomed
        )
        return RetentionReport(**report, would_delete=doomed[:MAX_LISTED], would_delete_count=len(doomed))
    deleted: list[str] = []
    failed: list[RetentionFailure] = []
    skipped_reason = None
    for name in doomed[:MAX_DELETIONS_PER_EXPORT]:
        if attempts.time_left() <= 0:
            skipped_reason = (
                "the time for OBS was used up: the remaining old exports go after the next export"
            )
            break
        try:
            attempts.run(f"delete {bucket}/{name}", partial(obs.delete_object, bucket, name))
        except ImsExportError as error:
            logger.warning("job %s: retention could not delete %s/%s: %s", job.job_id, bucket, name, error)
            failed.append(RetentionFailure(key=name, reason=str(error)))
            continue
        logger.info("job %s: retention deleted %s/%s", job.job_id, bucket, name)
        deleted.append(name)
    if len(doomed) > MAX_DELETIONS_PER_EXPORT and skipped_reason is None:
        skipped_reason = (
            f"{len(doomed) - MAX_DELETIONS_PER_EXPORT} more old exports go after the next export "
            f"(at most {MAX_DELETIONS_PER_EXPORT} at a time)"
        )
    return RetentionReport(
        **report,
        deleted=deleted[:MAX_LISTED],
        deleted_count=len(deleted),
        failed=failed[:MAX_LISTED],
        failed_count=len(failed),
        skipped_reason=skipped_reason,
    )


def after_success(
    job: JobState,
    clients: Clients,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The ``object`` and ``retention`` of a job that IMS reported as SUCCESS (a JobState update).

    Its object is ``missing`` when OBS shows that nothing usable was written."""
    settings = clients.settings
    if not settings.verify_exported_object:
        return {"object": None, "retention": _retention_skipped(settings, "VERIFY_EXPORTED_OBJECT is off")}
    bucket, key = split_bucket_url(job.bucket_url)
    attempts = _Attempts(job, sleep, monotonic)
    timeout = timeouts(
        settings.http_connect_timeout_seconds,
        min(settings.http_read_timeout_seconds, READ_TIMEOUT_CAP_SECONDS),
    )
    url = ""
    try:
        url = ObsAddress(settings.cloud, settings.region, settings.obs_endpoint).url(bucket, key)
        session = new_session()
        credentials_client = TemporaryCredentialsClient(
            clients.tokens, settings.iam_endpoint, session, timeout
        )
        retiring = settings.retention_count > 0 and not settings.retention_dry_run
        credentials = attempts.run(
            "temporary credentials",
            lambda: credentials_client.issue_for_bucket(bucket, allow_delete=retiring),
        )
        obs = ObsClient.for_settings(credentials, session, timeout, settings, clients.clock)
        head = attempts.run(f"head {bucket}/{key}", lambda: obs.head_object(bucket, key))
    except BucketNotFoundError:
        missing = _missing(job, bucket, key, url, f"OBS has no bucket {bucket}")
        return {"object": missing, "retention": _retention_skipped(settings, "the export is not verified")}
    except ImsExportError as error:
        reason = f"{type(error).__name__}: {error}"
        logger.warning("job %s: the exported object could not be verified: %s", job.job_id, reason)
        unverified = ExportedObject(
            bucket=bucket, key=key, url=url, verification="unverified", verification_reason=reason
        )
        return {"object": unverified, "retention": _retention_skipped(settings, "the export is not verified")}
    if isinstance(head, ObjectMissing):
        missing = _missing(job, bucket, key, url, f"OBS has no object {key} in bucket {bucket}")
        return {"object": missing, "retention": _retention_skipped(settings, "the export is not verified")}
    exported = _verified(job, head, bucket, url)
    logger.info(
        "job %s: exported object %s %s, %d bytes, last modified %s",
        job.job_id,
        url,
        exported.verification,
        head.size_bytes,
        head.last_modified,
    )
    if exported.verification != "verified":
        return {"object": exported, "retention": _retention_skipped(settings, "the export is not verified")}
    retention = (
        _retire(job, obs, attempts, bucket=bucket, key=key, settings=settings)
        if settings.retention_count
        else None
    )
    return {"object": exported, "retention": retention}
