"""Forget a failed export as a duplicate, so that the next identical trigger exports again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ims_export.steps.states import (
    ReleaseRequest,
    ReleaseResult,
)

if TYPE_CHECKING:
    # The idempotency store is built by the start function only.
    from ims_export.steps.export_guard import ExportGuard


def release(request: ReleaseRequest, guard: ExportGuard) -> ReleaseResult:
    """Forget a failed export as a duplicate: the next identical trigger exports again."""
    return ReleaseResult(released=guard.release(request.release.model_dump(mode="json")))
