"""The verify step, after the IMS job said SUCCESS: does OBS hold the exported object?

Verification (``VERIFY_EXPORTED_OBJECT``, on by default) obtains temporary credentials from the cached
IAM token, narrowed to the target bucket where the cloud accepts a policy, and sends a signed HEAD of
the object (``steps.obs_access``).

- The object is there and was last modified once the export had begun: ``verified``, with its size,
  time and address.
- No object (or no bucket), an empty one, or one last modified before the export began: ``missing``,
  and the export ends as ``ExportObjectMissing``. IMS claimed success and nothing usable is there.
- Verification cannot run (no permission for temporary credentials or for OBS, OBS unreachable or
  failing after a few tries): ``unverified`` with the reason. It never fails the export.

Its own task in the state machine, with its own retry and timeout: a retry sends one HEAD again, never
a job query or a deletion.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ims_export.domain.jobs import JobStatus
from ims_export.domain.objects import ObjectInfo, ObjectMissing
from ims_export.errors import BucketNotFoundError, ImsExportError, InvalidRequestError
from ims_export.runtime import Clients
from ims_export.steps.job_state import ExportedObject, Exporting, JobState
from ims_export.steps.obs_access import Attempts, ObsAccess

logger = logging.getLogger(__name__)


def _missing(job: JobState, bucket: str, key: str, url: str, what: str) -> ExportedObject:
    message = (
        f"{job.subject}, job {job.job_id}: IMS reported SUCCESS, but {what}. Nothing usable was "
        f"exported to {bucket}/{key}: check the bucket "
        f"in the OBS console, then export the image again (this export is released, so a new trigger "
        f"exports again)"
    )
    return ExportedObject(
        bucket=bucket, key=key, url=url, verification="missing", verification_reason=message
    )


def _judged(job: JobState, head: ObjectInfo, bucket: str, url: str) -> ExportedObject:
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


def succeeded_job(state: Exporting, step: str) -> JobState:
    """The job of a state that reached ``step``: only an export IMS reported as SUCCESS does."""
    job = state.job
    if job.status is not JobStatus.SUCCESS:
        raise InvalidRequestError(
            f"the {step} step follows a successful job only; job {job.job_id} of image {job.image_id} "
            f"is {job.status.value}",
            code="NotASuccessfulJob",
        )
    return job


def exported_object(
    job: JobState,
    clients: Clients,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> ExportedObject | None:
    """The exported object as OBS shows it (None: verification is off)."""
    settings = clients.settings
    if not settings.verify_exported_object:
        return None
    bucket, key = job.target.bucket, job.target.object_name
    attempts = Attempts(job.job_id, sleep, monotonic)
    url = ""
    try:
        access = ObsAccess(clients)
        url = access.url(bucket, key)
        credentials = attempts.run("temporary credentials", lambda: access.credentials(bucket))
        obs = access.client(credentials)
        head = attempts.run(f"head {bucket}/{key}", lambda: obs.head_object(bucket, key))
    except BucketNotFoundError:
        return _missing(job, bucket, key, url, f"OBS has no bucket {bucket}")
    except ImsExportError as error:
        reason = f"{type(error).__name__}: {error}"
        logger.warning("job %s: the exported object could not be verified: %s", job.job_id, reason)
        return ExportedObject(
            bucket=bucket, key=key, url=url, verification="unverified", verification_reason=reason
        )
    if isinstance(head, ObjectMissing):
        return _missing(job, bucket, key, url, f"OBS has no object {key} in bucket {bucket}")
    exported = _judged(job, head, bucket, url)
    logger.info(
        "job %s: exported object %s %s, %d bytes, last modified %s",
        job.job_id,
        url,
        exported.verification,
        head.size_bytes,
        head.last_modified,
    )
    return exported


def verify(state: Exporting, clients: Clients) -> Exporting:
    """The verify step: the state with the job's exported object."""
    job = succeeded_job(state, "verify")
    return Exporting(job=job.model_copy(update={"object": exported_object(job, clients)}))
