"""The asynchronous IMS job, as returned by ``GET /v1/{project_id}/jobs/{job_id}``."""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class JobStatus(StrEnum):
    INIT = "INIT"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCESS, JobStatus.FAIL)


class JobEntities(BaseModel):
    model_config = ConfigDict(extra="allow")

    image_id: str | None = None
    image_name: str | None = None
    process_percent: float | None = None
    current_task: str | None = None

    @field_validator("process_percent", mode="before")
    @classmethod
    def _percent_from_string(cls, value: Any) -> Any:
        # SDK models say float; some answers carry it as a string. NaN or infinity means "unknown".
        if isinstance(value, str):
            value = float(value) if value.strip() else None
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value


class Job(BaseModel):
    """An IMS job. An unknown ``status`` fails validation on purpose: it must never be polled forever."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    status: JobStatus
    job_type: str | None = None
    begin_time: datetime | None = None
    end_time: datetime | None = None
    error_code: str | None = None
    fail_reason: str | None = None
    entities: JobEntities = JobEntities()

    @field_validator("entities", mode="before")
    @classmethod
    def _null_entities_are_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("begin_time", "end_time", mode="before")
    @classmethod
    def _empty_time_is_none(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @property
    def process_percent(self) -> float | None:
        return self.entities.process_percent
