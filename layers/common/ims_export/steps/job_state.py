"""The payload of a running export: the job descriptor the check step carries from poll to poll.

Apart from the other payloads (``ims_export.steps.states``) so that the check step's cold start builds
only these models and loads none of the start step's (trigger events, orders, outcomes). The exported
object and the retention report are built on first use (defer_build): only a verified export has them.
No field ever holds a token or a credential.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ims_export.domain.export_request import ExportTarget, export_subject
from ims_export.domain.jobs import JobStatus
from ims_export.steps.contract import Phase


class ExportedObject(BaseModel):
    """The exported object as OBS shows it after SUCCESS (size, time and address; never a credential)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    bucket: str
    key: str
    url: str  # the object's HTTPS address for the cloud and region (or the configured OBS endpoint)
    size_bytes: int | None = Field(default=None, ge=0)
    last_modified: datetime | None = None
    etag: str | None = None
    # missing: nothing usable is there (no object, an empty one, or one older than the export): the
    # export ends as ExportObjectMissing, with the job as the poll that saw SUCCESS left it.
    verification: Literal["verified", "unverified", "missing"]
    verification_reason: str | None = None  # why unverified, or what is missing


class RetentionFailure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    key: str
    reason: str


class RetentionReport(BaseModel):
    """What the retention rule did after a verified export: deleted, would delete (dry run), failed.

    The name lists are capped (the state payload is limited to 256 KB); the counts are complete."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    keep: int = Field(ge=0)
    dry_run: bool = False
    prefix: str = ""
    deleted: list[str] = Field(default_factory=list)
    would_delete: list[str] = Field(default_factory=list)
    failed: list[RetentionFailure] = Field(default_factory=list)
    deleted_count: int = Field(default=0, ge=0)
    would_delete_count: int = Field(default=0, ge=0)
    failed_count: int = Field(default=0, ge=0)
    # Why nothing (or not everything) was done: not verified, listing failed, time budget used up.
    skipped_reason: str | None = None


class ObjectNotice(BaseModel):
    """An OBS notification that the export's object was created, as it woke the waiting export.

    It only ends a wait early: the check that follows asks IMS, and only the job's answer decides."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    bucket: str = Field(min_length=1, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    event_name: str = Field(max_length=64)
    event_time: datetime | None = None
    message_id: str = Field(max_length=256)  # the SMN message that carried it


class WaitRegistration(BaseModel):
    """Where the next wait stores its task token (``WaitForObject``): the table, the record of the
    export's object, until when the record is kept (epoch seconds, as text for DynamoDB), and how long
    after a notice the check comes (``SettleAfterNotice``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    table: str = Field(min_length=3, max_length=255)
    record_id: str
    expires_at: str = Field(pattern=r"^[0-9]{1,12}$")
    settle_seconds: int = Field(default=0, ge=0, le=300)  # absent from an earlier version's: at once


class JobState(BaseModel):
    """The job descriptor carried from poll to poll (and into a continued execution)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(min_length=1, max_length=64)
    image_id: str
    image_name: str
    image_size_bytes: int | None = None
    bucket_url: str
    file_format: str | None = None
    is_quick_export: bool = False
    started_at: datetime
    deadline: datetime
    max_polls_per_execution: int = Field(ge=1)
    status: JobStatus = JobStatus.INIT
    percent: float | None = None
    polls: int = Field(default=0, ge=0)
    polls_in_execution: int = Field(default=0, ge=0)
    continuations: int = Field(default=0, ge=0)
    elapsed_seconds: float = 0.0
    next_wait_seconds: int = Field(default=1, ge=0)
    finished_at: datetime | None = None
    error_code: str | None = None
    fail_reason: str | None = None
    timed_out: bool = False
    continue_as_new: bool = False
    # Job answers in a row that showed no job state, and since when (reset by a readable one).
    unreadable_answers: int = Field(default=0, ge=0)
    unreadable_since: datetime | None = None
    # After SUCCESS: the exported object as OBS shows it, and what retention did. Always present in
    # the payload (null until then): the outcome copies them with JSONPath, which fails on a missing key.
    object: ExportedObject | None = None
    retention: RetentionReport | None = None
    # What the pre-flight of the target could not prove (the export went ahead): each says what and why.
    warnings: tuple[str, ...] = ()
    # WAKE_ON_OBS_NOTIFICATION: where the next wait stores its task token (null: a plain wait), and the
    # notification that woke the export (null: none has).
    wake: WaitRegistration | None = None
    noticed: ObjectNotice | None = None
    noticed_at_poll: int | None = Field(default=None, ge=0)  # the poll that followed the notice

    @property
    def target(self) -> ExportTarget:
        return ExportTarget(self.bucket_url, self.file_format, self.is_quick_export)

    @property
    def subject(self) -> str:
        """How messages name this export (``export_subject``)."""
        return export_subject(self.image_id, self.image_name, self.bucket_url)


class Exporting(BaseModel):
    """The export runs: the state machine waits ``job.next_wait_seconds``, then calls ``check``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Literal[Phase.EXPORTING] = Phase.EXPORTING
    job: JobState
    # What ended the last wait early (WaitForObject's ResultPath): the notice sent with the task token,
    # or the error of a registration refused because a notice came before it. Anything may arrive here
    # (whoever holds a token may send any output): read leniently by ``steps.wake``, never passed on.
    woken: Any = Field(default=None, exclude=True)
