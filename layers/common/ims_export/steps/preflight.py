"""Before the export POST: the target checked against the rules IMS exports by.

The procedure this product automates wants a **Standard** OBS bucket; IMS adds that the bucket must be
in the image's region (IMG.0058) and reachable (IMG.0069), and that the file must not exist yet
(IMG.0070). Without a check, a cold bucket or a bucket in another region costs an export job that
fails later, and a typo'd bucket a refusal that names no fix. So, with temporary credentials narrowed
to the bucket (as the verification after SUCCESS uses them):

1. ``HEAD /`` of the bucket: it exists and may be read; OBS's ``x-obs-storage-class`` and
   ``x-obs-bucket-location`` headers, or else the ``?storageClass`` and ``?location`` sub-resources.
2. ``HEAD`` of the object: there is none yet.

A rule broken is a refusal before any POST: ``ExportTargetError`` (or ``ObjectAlreadyExistsError``)
whose code names the rule and whose message says what was found and what to do. An answer that
proves nothing (OBS 5xx or no answer, no permission to read the bucket's metadata, no temporary
credentials) lets the export go ahead, with a warning in the outcome. A bucket's answers are kept in
memory for ``PREFLIGHT_CACHE_SECONDS``; the object is asked every time. ``PREFLIGHT_TARGET=false``
turns it off.

Cost: one IAM request (temporary credentials) and one HEAD of the object per export, plus one HEAD of
the bucket (two GETs more where OBS leaves the headers out) when the bucket's answers are not cached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ims_export.cloud.obs import ObsClient
from ims_export.domain.export_request import ExportRequest
from ims_export.domain.objects import BucketInfo, ObjectMissing
from ims_export.errors import (
    BucketNotFoundError,
    ExportTargetError,
    ImsExportError,
    ObjectAlreadyExistsError,
)
from ims_export.runtime import Clients
from ims_export.steps.obs_access import ObsAccess

logger = logging.getLogger(__name__)

STANDARD = "STANDARD"
# The procedure's names for OBS's storage classes (OBS API names on the left).
CLASS_NAMES = {"STANDARD": "Standard", "WARM": "Infrequent Access (WARM)", "COLD": "Archive (COLD)"}
ResultT = TypeVar("ResultT")


class BucketFacts:
    """A bucket's answers, kept per process for a while (``PREFLIGHT_CACHE_SECONDS``)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, str], tuple[float, BucketInfo]] = {}

    def get(self, place: str, bucket: str) -> BucketInfo | None:
        with self._lock:
            kept = self._kept.get((place, bucket))
        if kept is None or kept[0] <= self._monotonic():
            return None
        return kept[1]

    def keep(self, place: str, info: BucketInfo, seconds: int) -> None:
        if seconds > 0:
            with self._lock:
                self._kept[(place, info.bucket)] = (self._monotonic() + seconds, info)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


BUCKET_FACTS = BucketFacts()


def _class_name(storage_class: str) -> str:
    return CLASS_NAMES.get(storage_class, storage_class)


def _bucket_info(obs: ObsClient, bucket: str) -> BucketInfo:
    """HEAD's headers, completed from the sub-resources where OBS left them out."""
    info = obs.head_bucket(bucket)
    storage_class = info.storage_class or obs.bucket_storage_class(bucket)
    location = info.location or obs.bucket_location(bucket)
    return BucketInfo(bucket=bucket, storage_class=storage_class, location=location)


def _check_bucket(info: BucketInfo, region: str, warnings: list[str]) -> None:
    bucket = info.bucket
    if info.storage_class is None:
        warnings.append(
            f"the storage class of bucket {bucket} could not be read: IMS exports only to Standard"
        )
    elif info.storage_class != STANDARD:
        raise ExportTargetError(
            f"bucket {bucket} has the storage class {_class_name(info.storage_class)}, and IMS exports "
            f"only to Standard buckets: choose a Standard bucket (EXPORT_BUCKET, or the event's "
            f"bucket_url), or change the default storage class of {bucket} to Standard in the OBS console",
            code="TargetBucketNotStandard",
        )
    if info.location is None:
        warnings.append(f"the region of bucket {bucket} could not be read: IMS exports only within {region}")
    elif info.location != region:
        raise ExportTargetError(
            f"bucket {bucket} is in region {info.location}, and IMS exports only to a bucket in the "
            f"image's region {region} (IMG.0058): choose a bucket in {region}",
            code="TargetBucketInAnotherRegion",
        )


def _answer(call: Callable[[], ResultT], what: str, warnings: list[str]) -> ResultT | None:
    """The call's answer; None, with a warning, if the answer proves nothing about the target."""
    try:
        return call()
    except BucketNotFoundError:
        raise
    except ImsExportError as error:  # throttled, failing, denied, unreadable: nothing against the target
        logger.warning("pre-flight: %s could not be checked: %s", what, error)
        warnings.append(f"{what} could not be checked before the export ({type(error).__name__}: {error})")
        return None


def check_target(
    request: ExportRequest, clients: Clients, *, facts: BucketFacts = BUCKET_FACTS
) -> tuple[str, ...]:
    """Refuse a target that breaks a rule; the warnings of what could not be checked."""
    settings = clients.settings
    if not settings.preflight_target:
        return ()
    bucket, key = request.target.bucket, request.target.object_name
    warnings: list[str] = []
    access = ObsAccess(clients)
    credentials = _answer(lambda: access.credentials(bucket), f"the target {request.bucket_url}", warnings)
    if credentials is None:
        return tuple(warnings)
    obs = access.client(credentials)
    place = f"{settings.cloud.value}/{settings.region}/{settings.obs_endpoint or ''}"
    try:
        info = facts.get(place, bucket)
        if info is None:
            info = _answer(lambda: _bucket_info(obs, bucket), f"bucket {bucket}", warnings)
            if info is not None:  # kept for PREFLIGHT_CACHE_SECONDS from this read, not from each use
                facts.keep(place, info, settings.preflight_cache_seconds)
        if info is not None:
            _check_bucket(info, settings.region, warnings)
        found = _answer(lambda: obs.head_object(bucket, key), f"the object {key} in {bucket}", warnings)
    except BucketNotFoundError:
        raise ExportTargetError(
            f"OBS has no bucket {bucket} (or not one this account can reach) in {settings.region} "
            f"(IMG.0069): check the bucket's name, or create it as a Standard bucket in {settings.region}",
            code="TargetBucketNotFound",
        ) from None
    if found is not None and not isinstance(found, ObjectMissing):
        raise ObjectAlreadyExistsError(
            f"the object {key} exists already in bucket {bucket} ({found.size_bytes} bytes), and IMS never "
            f"overwrites (IMG.0070): move or delete it, or export under another name (bucket_url, or "
            f"EXPORT_OBJECT_PATTERN)",
            code="TargetObjectExists",
        )
    return tuple(warnings)
