"""The retire step, after the verify step: delete the image's exports older than the newest N.

Retention (``RETENTION_COUNT`` > 0) follows a verified export only: it lists the bucket under the
object pattern's fixed prefix and deletes the exports of the same image older than the newest N
(``domain.retention`` chooses; ``RETENTION_DRY_RUN`` only reports), in ``EXPORT_BUCKET`` or
``RETENTION_BUCKETS`` only. A failed deletion is reported, not raised.

Its own task in the state machine, with its own retry and timeout: a retry lists and deletes again
(deleting an object already gone succeeds), and never queries the job or verifies the object again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from ims_export.cloud.obs import ObsClient
from ims_export.domain.retention import listing_prefix, name_expression, select_for_deletion
from ims_export.errors import ImsExportError
from ims_export.runtime import Clients
from ims_export.settings import Settings
from ims_export.steps.job_state import Exporting, JobState, RetentionFailure, RetentionReport
from ims_export.steps.obs_access import Attempts, ObsAccess
from ims_export.steps.verify import succeeded_job

logger = logging.getLogger(__name__)

MAX_DELETIONS_PER_EXPORT = 100  # the rest go after the next export
MAX_LISTED = 50  # names in the retention report (the counts are complete)


def _skipped(settings: Settings, reason: str) -> RetentionReport:
    return RetentionReport(
        keep=settings.retention_count, dry_run=settings.retention_dry_run, skipped_reason=reason
    )


def _not_retiring(job: JobState, settings: Settings) -> RetentionReport | None:
    """Why retention does not run for this export (None inside a report: it is off)."""
    if not settings.verify_exported_object:
        return _skipped(settings, "VERIFY_EXPORTED_OBJECT is off")
    if job.object is None or job.object.verification != "verified":
        return _skipped(settings, "the export is not verified")
    bucket = job.target.bucket
    allowed = {settings.export_bucket, *settings.retention_buckets} - {None}
    if bucket not in allowed:
        return _skipped(
            settings,
            f"retention deletes only in EXPORT_BUCKET or RETENTION_BUCKETS "
            f"({', '.join(sorted(b for b in allowed if b)) or 'none set'}), not in {bucket}",
        )
    return None


def _delete(
    job: JobState, obs: ObsClient, attempts: Attempts, bucket: str, doomed: list[str]
) -> dict[str, Any]:
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
    return {
        "deleted": deleted[:MAX_LISTED],
        "deleted_count": len(deleted),
        "failed": failed[:MAX_LISTED],
        "failed_count": len(failed),
        "skipped_reason": skipped_reason,
    }


def retention_report(
    job: JobState,
    clients: Clients,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> RetentionReport | None:
    """Delete (or, dry run, name) the exports of the image older than the newest ``RETENTION_COUNT``;
    None when retention is off."""
    settings = clients.settings
    if settings.retention_count == 0:
        return None
    refused = _not_retiring(job, settings)
    if refused is not None:
        return refused
    keep, dry_run, pattern = (
        settings.retention_count,
        settings.retention_dry_run,
        settings.export_object_pattern,
    )
    bucket, key = job.target.bucket, job.target.object_name
    report: dict[str, Any] = {"keep": keep, "dry_run": dry_run}
    attempts = Attempts(job.job_id, sleep, monotonic)
    try:
        report["prefix"] = prefix = listing_prefix(pattern)
        if name_expression(pattern, job.image_id).fullmatch(key) is None:
            return RetentionReport(
                **report,
                skipped_reason=f"{key} is not a name of EXPORT_OBJECT_PATTERN {pattern!r}: retention "
                "retires only exports named by the pattern",
            )
        access = ObsAccess(clients)
        credentials = attempts.run(
            "temporary credentials", lambda: access.credentials(bucket, allow_delete=not dry_run)
        )
        obs = access.client(credentials)
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
    return RetentionReport(**report, **_delete(job, obs, attempts, bucket, doomed))


def retire(state: Exporting, clients: Clients) -> Exporting:
    """The retire step: the state with what retention did."""
    job = succeeded_job(state, "retire")
    return Exporting(job=job.model_copy(update={"retention": retention_report(job, clients)}))
