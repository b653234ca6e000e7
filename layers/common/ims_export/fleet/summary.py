"""Fleet exports: each image's result, and the summary of the run.

Every Map iteration of the fleet state machine ends in ``record_item``, whatever way its child export
ended: succeeded, failed, a duplicate of a running export, or continued in a new execution (the history
guard of long exports). Reading the child's output here, rather than with JSONPath in the definition,
keeps the iteration working for every output shape. The Map runs write the results to S3; ``fold``
reads them back piece by piece (``ims_export.fleet.results``) into a ``ResultsTally`` of bounded size
(counts, durations, the first failed and skipped images), and the last piece of the last page gives
the summary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ims_export.fleet.results import (
    PieceRequest,
    ResultFile,
    json_or_none,
    parse_manifest,
    piece_range,
    split_records,
)
from ims_export.fleet.selection import MAX_NAME_CHARS, SkippedImage, shorten

# The run's output lists this many skipped and failed images at most (all are counted), the outcome
# event and the SNS message fewer: the state, the event and the message are capped at 256 KB.
MAX_LISTED_IN_SUMMARY = 200
# Failed images listed: fewer, as each names its image and child execution (benchmarks/fleet.py).
MAX_LISTED_FAILED = 150
# Exported images are counted; the first ones are listed (all are in the map runs' result files).
MAX_LISTED_EXPORTED = 200
MAX_LISTED_IN_NOTICE = 100
# A failed entry's bucket_url is cut to this (its image_name as a skipped image's): hundreds are listed.
MAX_BUCKET_URL_CHARS = 128
FLEET_DETAIL_TYPE = "Fleet Export Finished"
# Child errors that mean "this image cannot be exported", not "the export broke".
SKIP_ERRORS = frozenset({"ImageNotExportableError", "ImageNotFoundError", "ImageNotReadyError"})
ItemStatus = Literal["EXPORTED", "SKIPPED", "FAILED", "CONTINUED"]


class ItemResult(BaseModel):
    """One image's result as the Map collects it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: str
    status: ItemStatus
    # The export a failed child outcome names (as far as it got): what to look at, or export again.
    image_name: str | None = None
    bucket_url: str | None = None
    elapsed_seconds: float | None = None
    polls: int | None = None
    error: str | None = None
    reason: str | None = None
    # CONTINUED: the execution the export went on in, which the fleet follows; in the summary's failed
    # entries: the child execution to open (derived there, see ``child_execution_arn``).
    execution_arn: str | None = None
    # The exported object as the child's outcome describes it (size_bytes, last_modified, url, ...).
    object: dict[str, Any] | None = None


class ItemRecord(BaseModel):
    """A Map iteration's state at its end: the image, and the child execution or the failure.

    ``child`` is a DescribeExecution result: from ``startExecution.sync:2`` (``Output`` parsed) or from
    ``aws-sdk:sfn:describeExecution`` while following a continuation (``Output`` as a JSON string).
    ``failure`` is what a Catch hands over (``Error``, ``Cause``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    image_id: str
    child: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _reason_from_outcome(outcome: Any, fallback: str) -> str:
    """The export outcome's reason: the IMS job's code and reason, else the failed step's message."""
    if not isinstance(outcome, dict):
        return fallback
    fail_reason, code = outcome.get("fail_reason"), outcome.get("error_code")
    if fail_reason or code:
        return ": ".join(_text(part) for part in (code, fail_reason) if part)
    if outcome.get("reason"):
        return _text(outcome["reason"])
    if outcome.get("message"):  # the outcome step's readable sentence
        return _text(outcome["message"])
    # A failed Lambda step's cause is the Lambda error ({"errorMessage", "errorType", ...}), as an
    # object or as JSON text.
    cause = outcome.get("cause")
    lambda_error = cause if isinstance(cause, dict) else json_or_none(cause)
    if isinstance(lambda_error, dict) and lambda_error.get("errorMessage"):
        return _text(lambda_error["errorMessage"])
    return _text(cause) or fallback


def _failed(image_id: str, error: str, reason: str) -> ItemResult:
    status: ItemStatus = "SKIPPED" if error in SKIP_ERRORS else "FAILED"
    return ItemResult(image_id=image_id, status=status, error=error, reason=shorten(reason))


def _from_ended_execution(image_id: str, execution: dict[str, Any]) -> ItemResult:
    """A child that did not succeed: its error, and the reason from its outcome (the cause, as JSON)."""
    error = _text(execution.get("Error")) or "Execution" + _text(execution.get("Status")).title().replace(
        "_", ""
    )
    cause = _text(execution.get("Cause"))
    outcome = json_or_none(cause)
    failed = _failed(image_id, error, _reason_from_outcome(outcome, cause))
    if isinstance(outcome, dict):  # the export and how far it got before it failed
        elapsed, polls = outcome.get("elapsed_seconds"), outcome.get("polls")
        usable_polls = isinstance(polls, int) and not isinstance(polls, bool) and polls >= 0
        usable_elapsed = isinstance(elapsed, int | float) and not isinstance(elapsed, bool) and elapsed >= 0
        named = {
            name: shorten(value, limit)
            for name, limit in (("image_name", MAX_NAME_CHARS), ("bucket_url", MAX_BUCKET_URL_CHARS))
            if isinstance(value := outcome.get(name), str) and value
        }
        failed = failed.model_copy(
            update={
                "elapsed_seconds": elapsed if usable_elapsed else None,
                "polls": polls if usable_polls else None,
                **named,
            }
        )
    return failed


def _from_failure(image_id: str, failure: dict[str, Any]) -> ItemResult:
    error, cause = _text(failure.get("Error")) or "UnknownError", _text(failure.get("Cause"))
    described = json_or_none(cause)
    # startExecution.sync:2 fails with States.TaskFailed and the child's DescribeExecution as the cause.
    if error == "States.TaskFailed" and isinstance(described, dict) and "Status" in described:
        return _from_ended_execution(image_id, described)
    return _failed(image_id, error, cause)


def _from_output(image_id: str, output: Any) -> ItemResult:
    if not isinstance(output, dict):
        return _failed(image_id, "UnexpectedChildOutput", "the export ended without an outcome")
    continued = output.get("continued_in")
    if isinstance(continued, dict) and continued.get("execution_arn"):
        return ItemResult(
            image_id=image_id, status="CONTINUED", execution_arn=str(continued["execution_arn"])
        )
    status = output.get("status")
    if status == "SUCCEEDED":
        described = output.get("object")
        return ItemResult(
            image_id=image_id,
            status="EXPORTED",
            elapsed_seconds=output.get("elapsed_seconds"),
            polls=output.get("polls"),
            object=described if isinstance(described, dict) else None,
        )
    if status == "DUPLICATE":
        reason = f"already being exported by {output.get('original_execution') or 'another execution'}"
        return ItemResult(
            image_id=image_id, status="SKIPPED", error="DuplicateTrigger", reason=shorten(reason)
        )
    return _failed(image_id, "UnexpectedChildOutput", f"the export ended with status {status!r}")


def record_item(record: ItemRecord) -> ItemResult:
    """One image's result, whichever way its child export ended."""
    if record.failure is not None:
        return _from_failure(record.image_id, record.failure)
    if record.child is None:
        return _failed(record.image_id, "UnexpectedChildOutput", "neither a child execution nor a failure")
    if record.child.get("Status") != "SUCCEEDED":
        return _from_ended_execution(record.image_id, record.child)
    return _from_output(record.image_id, json_or_none(record.child.get("Output")))


# --- reading the map runs' results -----------------------------------------------------------------


def item_from_record(record: dict[str, Any]) -> ItemResult:
    """One image's result from a map run's execution record (a child workflow of the Distributed Map).

    A child that succeeded returns its ``ItemResult``; one that failed anyway (a Step Functions error
    the iteration could not catch) is a failure named after its input's image."""
    output = json_or_none(record.get("Output"))
    if record.get("Status") == "SUCCEEDED" and isinstance(output, dict):
        try:
            return ItemResult.model_validate(output)
        except ValueError:
            pass
    given = json_or_none(record.get("Input"))
    image_id = str(given.get("image_id", "")) if isinstance(given, dict) else ""
    if isinstance(output, dict) and output.get("image_id"):
        image_id = str(output["image_id"])
    error = _text(record.get("Error")) or "Execution" + _text(record.get("Status")).title().replace("_", "")
    return _failed(image_id or "unknown", error, _text(record.get("Cause")) or "the child workflow failed")


class VerificationCounts(BaseModel):
    """How the exported objects were checked in OBS (``object.verification`` of each child outcome)."""

    model_config = ConfigDict(extra="forbid")

    verified: int = 0
    unverified: int = 0
    not_checked: int = 0  # VERIFY_EXPORTED_OBJECT off, or an outcome without an object

    def add(self, exported: Mapping[str, Any] | None) -> None:
        verification = (exported or {}).get("verification")
        if verification == "verified":
            self.verified += 1
        elif verification == "unverified":
            self.unverified += 1
        else:
            self.not_checked += 1


class ResultsTally(BaseModel):
    """What the fleet has read of its results so far, and where it reads next: bounded in size
    (counts and sums; at most the first ``MAX_LISTED_*`` images listed) whatever the fleet's size."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=0, ge=0)  # the page whose results are being read
    map_runs: list[str] = Field(default_factory=list)
    bucket: str = ""
    files: list[ResultFile] = Field(default_factory=list)  # still to read, the current one first
    offset: int = Field(default=0, ge=0)
    carry: str = ""  # the start of a record the next piece completes
    next: PieceRequest | None = None
    exported_count: int = 0
    exported: list[str] = Field(default_factory=list)
    exported_bytes: int = 0
    verification: VerificationCounts = Field(default_factory=VerificationCounts)
    seconds_count: int = 0
    seconds_total: float = 0.0
    seconds_min: float | None = None
    seconds_max: float | None = None
    failed_count: int = 0
    failed: list[ItemResult] = Field(default_factory=list)
    skipped_count: int = 0  # skipped by the child export (the selection's are in the plan)
    skipped: list[SkippedImage] = Field(default_factory=list)

    def add(self, item: ItemResult, *, listed_skipped_room: int = MAX_LISTED_IN_SUMMARY) -> None:
        if item.status == "EXPORTED":
            self.exported_count += 1
            if len(self.exported) < MAX_LISTED_EXPORTED:
                self.exported.append(item.image_id)
            size = (item.object or {}).get("size_bytes")
            if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
                self.exported_bytes += size
            self.verification.add(item.object)
            if item.elapsed_seconds is not None:
                self._add_seconds(item.elapsed_seconds)
        elif item.status == "SKIPPED":
            self.skipped_count += 1
            if len(self.skipped) < listed_skipped_room:
                self.skipped.append(
                    SkippedImage(
                        image_id=item.image_id,
                        image_name=item.image_name or "",
                        code=item.error,
                        reason=item.reason or "",
                    )
                )
        else:  # FAILED, or CONTINUED when the fleet stopped following it: nobody saw it end
            self.failed_count += 1
            if len(self.failed) < MAX_LISTED_FAILED:
                # The image's name (cut, as a skipped image's) but not the target: 200 bucket URLs
                # would not fit the state's 256 KB with the rest (benchmarks/fleet.py); each image's
                # result file and its child execution have it.
                self.failed.append(item.model_copy(update={"bucket_url": None}))

    def _add_seconds(self, seconds: float) -> None:
        self.seconds_count += 1
        self.seconds_total += seconds
        self.seconds_min = seconds if self.seconds_min is None else min(self.seconds_min, seconds)
        self.seconds_max = seconds if self.seconds_max is None else max(self.seconds_max, seconds)


class PlanHeader(BaseModel):
    """The selection's figures the fleet keeps once its pages are written (its items are in S3)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pages: int = Field(ge=0)
    selected: int = Field(ge=0)
    skipped: list[SkippedImage]
    skipped_count: int = Field(ge=0)
    considered: int = Field(ge=0)
    max_concurrency: int = Field(ge=1)


class FoldRequest(BaseModel):
    """One step of reading the results: the plan, the tally so far, and the piece just read (the
    page's manifest when ``tally.next`` is unset; empty when nothing was selected)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    plan: PlanHeader
    tally: ResultsTally
    piece: str = ""
    execution: str
    started_at: datetime


def _fold_piece(tally: ResultsTally, piece: str, plan: PlanHeader) -> None:
    if tally.next is None:  # the page's manifest
        manifest = parse_manifest(piece)
        tally.map_runs.append(manifest.map_run_arn)
        tally.bucket, tally.files, tally.offset, tally.carry = manifest.bucket, list(manifest.files), 0, ""
    else:
        records, tally.carry = split_records(tally.carry + piece)
        room = max(MAX_LISTED_IN_SUMMARY - len(plan.skipped), 0)
        for record in records:
            tally.add(item_from_record(record), listed_skipped_room=room)
        tally.offset += len(piece.encode())  # the bytes S3 returned, whatever the range asked
    while tally.files and tally.offset >= tally.files[0].size:
        tally.files.pop(0)
        tally.offset, tally.carry = 0, ""
    if tally.files:
        tally.next = PieceRequest(
            bucket=tally.bucket, key=tally.files[0].key, range=piece_range(tally.offset, tally.files[0].size)
        )
    else:
        tally.next = None
        tally.page += 1


def fold(request: FoldRequest) -> ResultsTally:
    """The tally after ``request.piece``; ``next`` says what to read next, and once unset the page
    is read and ``page`` names the next one (``plan.pages`` when the whole fleet is read)."""
    tally = request.tally.model_copy(deep=True)
    if tally.page < request.plan.pages:
        _fold_piece(tally, request.piece, request.plan)
    return tally


# --- the summary -----------------------------------------------------------------------------------


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
