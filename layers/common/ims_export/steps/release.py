"""Forget a failed export as a duplicate, so that the next identical trigger exports again.

The outcome step only says what to delete (conditional deleteItems); the state machine deletes it
before it publishes, and a failure of that never loses the outcome (it adds ``release_error``)."""

from __future__ import annotations

from ims_export.steps.export_guard import ExportClaims
from ims_export.steps.outcome_payloads import ClaimRelease, DescribedOutcome, EndedState
from ims_export.steps.states import DynamoDBRequest


def release_failed_export(
    described: DescribedOutcome, state: EndedState, claims: ExportClaims | None, *, execution: str | None
) -> DescribedOutcome:
    """Add the records to drop for a failed export: the claims a start that failed holds, and the
    record of a failed job (only if it still holds this job)."""
    outcome = described.outcome
    if claims is None or outcome.status != "FAILED":
        return described
    deletes: list[DynamoDBRequest] = []
    if state.pending is not None:
        deletes.extend(claims.abandon_requests(state.pending, execution=execution))
    if outcome.job_id is not None:
        job = {
            "job_id": outcome.job_id,
            "image_id": outcome.image_id,
            "bucket_url": outcome.bucket_url,
            "file_format": outcome.file_format,
            "is_quick_export": bool(outcome.is_quick_export),
        }
        deletes.append(claims.release_request(job))
    if not deletes:
        return described
    return described.model_copy(update={"release": ClaimRelease(deletes=deletes)})
