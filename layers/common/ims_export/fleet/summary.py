"""The summary of a fleet run, from its tally (``fleet.tally``) once the last piece of the last page is
read: the run's output, and the notice published as its outcome event and SNS message."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from ims_export.fleet.items import ItemResult
from ims_export.fleet.selection import SkippedImage
from ims_export.fleet.tally import MAX_LISTED_IN_SUMMARY, PlanHeader, ResultsTally, VerificationCounts

MAX_LISTED_IN_NOTICE = 100
FLEET_DETAIL_TYPE = "Fleet Export Finished"


class SummaryRequest(BaseModel):
    """Every selected image's result at once, and the selection's skipped images."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    results: list[ItemResult]
    skipped: list[SkippedImage]
    skipped_count: int = Field(ge=0)
    considered: int = Field(ge=0)
    execution: str
    started_at: datetime


class ExportDurations(BaseModel):
    model_config = ConfigDict(frozen=True)

    fleet_seconds: float
    export_seconds_min: float | None = None
    export_seconds_max: float | None = None
    export_seconds_mean: float | None = None
    export_seconds_total: float = 0.0


class FleetSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["SUCCEEDED", "PARTIAL", "FAILED"]
    detail_type: str = FLEET_DETAIL_TYPE
    execution: str
    started_at: datetime
    finished_at: datetime
    considered: int
    selected: int
    exported_count: int
    # The exported objects' bytes, as far as the children's outcomes report them (``object``).
    exported_bytes: int = 0
    verification: VerificationCounts = Field(default_factory=VerificationCounts)
    skipped_count: int
    failed_count: int
    durations: ExportDurations
    exported: list[str]  # image ids
    skipped: list[SkippedImage]
    failed: list[ItemResult]
    truncated: bool  # some exported, skipped or failed images are counted but not listed
    # The Distributed Map runs (one per page): their result files hold every image's result.
    map_runs: list[str] = Field(default_factory=list)

    @field_serializer("failed")
    def _failed_as_known(self, failed: list[ItemResult]) -> list[dict[str, Any]]:
        # What is known of each failed image, no nulls: the target and the object are in its result file.
        return [item.model_dump(mode="json", exclude_none=True) for item in failed]

    def notice(self) -> dict[str, Any]:
        """The summary for the outcome event and SNS (both capped at 256 KB): without the exported
        ids, and with at most ``MAX_LISTED_IN_NOTICE`` skipped and failed images each."""
        body = self.model_dump(mode="json", exclude={"exported", "map_runs"})
        body["skipped"] = body["skipped"][:MAX_LISTED_IN_NOTICE]
        body["failed"] = body["failed"][:MAX_LISTED_IN_NOTICE]
        body["truncated"] = (
            self.skipped_count > MAX_LISTED_IN_NOTICE or self.failed_count > MAX_LISTED_IN_NOTICE
        )
        return body


def _durations(tally: ResultsTally, fleet_seconds: float) -> ExportDurations:
    if not tally.seconds_count:
        return ExportDurations(fleet_seconds=fleet_seconds)
    return ExportDurations(
        fleet_seconds=fleet_seconds,
        export_seconds_min=tally.seconds_min,
        export_seconds_max=tally.seconds_max,
        export_seconds_mean=round(tally.seconds_total / tally.seconds_count, 3),
        export_seconds_total=round(tally.seconds_total, 3),
    )


def child_execution_arn(export_state_machine_arn: str, fleet_execution: str, image_id: str) -> str:
    """The ARN of the child export the fleet ran for ``image_id``. fleet.asl.json names each child
    ``<image id>-<MD5 of the fleet execution's id>``; deriving the ARN here, rather than carrying it in
    each image's result, keeps 1,000 results within the Map state's 256 KB."""
    digest = hashlib.md5(fleet_execution.encode(), usedforsecurity=False).hexdigest()
    prefix = export_state_machine_arn.replace(":stateMachine:", ":execution:", 1)
    return f"{prefix}:{image_id}-{digest}"


def summarize(
    request: SummaryRequest, *, now: datetime, export_state_machine_arn: str | None = None
) -> FleetSummary:
    """The summary of ``request.results``, as ``summarize_tally`` gives it for a fleet read from S3."""
    plan = PlanHeader(
        pages=1,
        selected=len(request.results),
        skipped=request.skipped,
        skipped_count=request.skipped_count,
        considered=request.considered,
        max_concurrency=1,
    )
    tally = ResultsTally(page=1)
    room = max(MAX_LISTED_IN_SUMMARY - len(plan.skipped), 0)
    for item in request.results:
        tally.add(item, listed_skipped_room=room)
    return summarize_tally(
        plan,
        tally,
        execution=request.execution,
        started_at=request.started_at,
        now=now,
        export_state_machine_arn=export_state_machine_arn,
    )


def summarize_tally(
    plan: PlanHeader,
    tally: ResultsTally,
    *,
    execution: str,
    started_at: datetime,
    now: datetime,
    export_state_machine_arn: str | None = None,
) -> FleetSummary:
    """Exported, skipped (at selection or by the child) and failed images, with reasons and durations;
    each failed entry names its child execution when ``export_state_machine_arn`` is given.

    A result still CONTINUED (the fleet stopped following it) counts as failed: nobody saw it end."""
    failed = tally.failed
    if export_state_machine_arn:
        failed = [
            item
            if item.execution_arn
            else item.model_copy(
                update={
                    "execution_arn": child_execution_arn(export_state_machine_arn, execution, item.image_id)
                }
            )
            for item in failed
        ]
    skipped = (list(plan.skipped) + tally.skipped)[:MAX_LISTED_IN_SUMMARY]
    skipped_count = plan.skipped_count + tally.skipped_count
    status: Literal["SUCCEEDED", "PARTIAL", "FAILED"] = "SUCCEEDED"
    if tally.failed_count:
        status = "PARTIAL" if tally.exported_count else "FAILED"
    fleet_seconds = round(max((now - started_at).total_seconds(), 0.0), 3)
    return FleetSummary(
        status=status,
        execution=execution,
        started_at=started_at,
        finished_at=now,
        considered=plan.considered,
        selected=plan.selected,
        exported_count=tally.exported_count,
        exported_bytes=tally.exported_bytes,
        verification=tally.verification,
        skipped_count=skipped_count,
        failed_count=tally.failed_count,
        durations=_durations(tally, fleet_seconds),
        exported=tally.exported,
        skipped=skipped,
        failed=failed,
        truncated=(
            skipped_count > len(skipped)
            or tally.failed_count > len(failed)
            or tally.exported_count > len(tally.exported)
        ),
        map_runs=tally.map_runs,
    )
