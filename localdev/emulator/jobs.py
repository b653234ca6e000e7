"""IMS export jobs: their life cycle on the emulated clock and their documented JSON shape.

A job is INIT for ``init_seconds``, then RUNNING with ``process_percent`` rising linearly for
``duration_seconds`` (image size / export speed), then SUCCESS, or FAIL part-way for a doomed image.
The status is computed from the clock, so a job needs no thread to make progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from localdev.emulator.clock import iso_millis
from localdev.emulator.model import ExportFailure

EXPORT_JOB_TYPE = "imsNativeExportImageJob"


class JobStatus(StrEnum):
    INIT = "INIT"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"


@dataclass(frozen=True)
class JobView:
    status: JobStatus
    percent: float
    end_time: float | None


@dataclass
class ExportJob:
    job_id: str
    project_id: str
    image_id: str
    image_name: str
    bucket: str
    object_name: str
    file_format: str | None  # None for a quick export (ZVHD2)
    size_bytes: int
    created_at: float
    init_seconds: float
    duration_seconds: float
    failure: ExportFailure | None = None
    fail_fraction: float = 0.4
    delivered: bool = False  # the object has been written to the bucket

    @property
    def running_from(self) -> float:
        return self.created_at + self.init_seconds

    @property
    def ends_at(self) -> float:
        fraction = self.fail_fraction if self.failure else 1.0
        return self.running_from + self.duration_seconds * fraction

    def view(self, now: float) -> JobView:
        if now < self.running_from:
            return JobView(JobStatus.INIT, 0.0, None)
        if now >= self.ends_at:
            if self.failure:
                return JobView(JobStatus.FAIL, round(100 * self.fail_fraction, 1), self.ends_at)
            return JobView(JobStatus.SUCCESS, 100.0, self.ends_at)
        elapsed = now - self.running_from
        percent = 100 * elapsed / self.duration_seconds if self.duration_seconds else 100.0
        # Never report 100 % while still RUNNING: clients may take 100 for done.
        return JobView(JobStatus.RUNNING, min(round(percent, 1), 99.9), None)

    def in_progress(self, now: float) -> bool:
        return self.view(now).status in (JobStatus.INIT, JobStatus.RUNNING)

    def api_body(self, now: float, time_text: Callable[[float], str] = iso_millis) -> dict[str, Any]:
        """``GET /v1/{project_id}/jobs/{job_id}`` (and the progress API) as documented; ``time_text``
        writes the times (a dialect may use another format)."""
        view = self.view(now)
        failure = self.failure if view.status is JobStatus.FAIL else None
        return {
            "job_id": self.job_id,
            "job_type": EXPORT_JOB_TYPE,
            "begin_time": time_text(self.created_at),
            "end_time": time_text(view.end_time) if view.end_time is not None else None,
            "status": str(view.status),
            "error_code": failure.error_code if failure else None,
            "fail_reason": failure.fail_reason if failure else None,
            "entities": {
                "image_id": self.image_id,
                "image_name": self.image_name,
                "process_percent": view.percent,
            },
        }
