"""Forget a failed export as a duplicate, so that the next identical trigger exports again."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from ims_export.steps.states import DescribedOutcome

logger = logging.getLogger(__name__)


class ExportReleaser(Protocol):
    """The part of an ``ExportGuard`` that forgets an export (built by the start function only)."""

    def release(self, job: Mapping[str, Any]) -> bool: ...


def release_failed_export(described: DescribedOutcome, guard: ExportReleaser) -> DescribedOutcome:
    """Drop the duplicate record of a failed export (only if it still holds this job).

    A failure here is not the export's: the outcome is kept all the same, naming the error."""
    outcome = described.outcome
    if outcome.status != "FAILED" or outcome.job_id is None:
        return described
    job = {
        "job_id": outcome.job_id,
        "image_id": outcome.image_id,
        "bucket_url": outcome.bucket_url,
        "file_format": outcome.file_format,
        "is_quick_export": bool(outcome.is_quick_export),
    }
    try:
        released = guard.release(job)
    except Exception as error:  # whatever it is, the outcome must still be published
        logger.warning("failed export %s not released: %s: %s", outcome.job_id, type(error).__name__, error)
        failed = outcome.model_copy(update={"release_error": type(error).__name__})
        return described.model_copy(update={"outcome": failed})
    logger.info("failed export %s released: %s", outcome.job_id, released)
    return described
