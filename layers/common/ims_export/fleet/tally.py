"""The map runs' results read back piece by piece (``ims_export.fleet.results``) into a ``ResultsTally`` of
bounded size: counts, bytes, durations, verifications, and the first failed and skipped images."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ims_export.fleet.items import ItemResult, item_from_record
from ims_export.fleet.results import (
    PieceRequest,
    ResultFile,
    parse_manifest,
    piece_range,
    split_records,
)
from ims_export.fleet.selection import SkippedImage

# The run's output lists this many skipped and failed images at most (all are counted), the outcome
# event and the SNS message fewer: the state, the event and the message are capped at 256 KB.
MAX_LISTED_IN_SUMMARY = 200
# Failed images listed: fewer, as each names its image and child execution (benchmarks/fleet.py).
MAX_LISTED_FAILED = 150
# Exported images are counted; the first ones are listed (all are in the map runs' result files).
MAX_LISTED_EXPORTED = 200


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
