"""The asynchronous IMS job, as either job API returns it.

``GET /v1/{project_id}/jobs/{job_id}`` and ``GET /v1/cloudimages/job/{job_id}`` answer the same shape.
Only what proves the job's state is read strictly: ``status`` (a documented value, in any case) and the
job id. Everything else is a hint, read in every format the API reference lists (both clouds' IMS
references, SDK models and provider code); a hint that cannot be read becomes "unknown" with a
debug log line, never an error:

- times: ISO 8601 or the older ``04-Jun-2015 18:11:06:586``; ``""``, ``"N/A"``, null: unknown;
- ``process_percent``: 0-1 or 0-100, number or string, with or without ``%``;
- documented camelCase spellings (``jobId``, ``beginTime``, ``processPercent``, ...);
- ``entities`` of any shape (an object, a list of objects, anything else: empty).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

logger = logging.getLogger(__name__)

# Older IMS answers and docs: day-month-year, a colon before the milliseconds.
LEGACY_TIME_FORMATS = ("%d-%b-%Y %H:%M:%S:%f", "%d-%b-%Y %H:%M:%S.%f", "%d-%b-%Y %H:%M:%S")
# Epoch numbers above this are milliseconds (1e11 seconds is the year 5138).
EPOCH_MILLIS_THRESHOLD = 1e11


class JobStatus(StrEnum):
    INIT = "INIT"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCESS, JobStatus.FAIL)


class UnreadableJob(ValueError):
    """The answer shows no job state: not an object, no readable status or no job id."""


class UndocumentedStatus(ValueError):
    """The answer's status is a string, but not one of the documented values."""

    def __init__(self, status: str) -> None:
        super().__init__(f"undocumented job status {status[:40]!r}")
        self.status = status[:40]


def parse_job_time(value: Any) -> datetime | None:
    """A job (or token) time in any documented format, in UTC; None for placeholders and the unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        seconds = value / 1000 if value > EPOCH_MILLIS_THRESHOLD else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        parsed = None
    for layout in LEGACY_TIME_FORMATS if parsed is None else ():
        try:
            parsed = datetime.strptime(text, layout)  # UTC, made explicit below
            break
        except ValueError:
            continue
    if parsed is None:
        logger.debug("job time %r not readable: treated as unknown", text[:40])
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_percent(value: Any) -> float | None:
    """``process_percent`` as a percentage in [0, 100], or None when unknown.

    Neither cloud documents the scale. With a ``%`` sign it is a percentage; otherwise a value up to 1
    is read as a share (0.24 -> 24 %). Of the two readings that is the higher one, and a higher
    reading only makes the next poll come sooner: an ambiguous hint never delays noticing the end.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    explicit_percent = False
    if isinstance(value, str):
        text = value.strip()
        explicit_percent = text.endswith("%")
        try:
            value = float(text.rstrip("%").strip())
        except ValueError:
            logger.debug("process_percent %r not readable: treated as unknown", text[:20])
            return None
    number = float(value)
    if not math.isfinite(number) or number < 0:
        return None
    if not explicit_percent and number <= 1:
        number *= 100
    return number if number <= 100 else None


def _optional_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _entities_mapping(value: Any) -> dict[str, Any]:
    """``entities`` as one mapping: a list of objects is merged (the first occurrence of a key wins)."""
    if isinstance(value, Mapping):
        return dict(value)
    merged: dict[str, Any] = {}
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                for key, field_value in item.items():
                    merged.setdefault(key, field_value)
    return merged


class JobEntities(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    image_id: str | None = Field(default=None, validation_alias=AliasChoices("image_id", "imageId"))
    image_name: str | None = Field(default=None, validation_alias=AliasChoices("image_name", "imageName"))
    process_percent: float | None = Field(
        default=None, validation_alias=AliasChoices("process_percent", "processPercent")
    )
    current_task: str | None = Field(
        default=None, validation_alias=AliasChoices("current_task", "currentTask")
    )

    @field_validator("process_percent", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> float | None:
        return parse_percent(value)

    @field_validator("image_id", "image_name", "current_task", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str | None:
        return _optional_text(value)


def _alias(*names: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(*names))


class Job(BaseModel):
    """An IMS job. ``status`` must be documented: an unknown one fails validation on purpose, it must
    never be polled forever. Use ``read_job`` for answers from IMS: it tells the two failures apart."""

    # Built on first use: a poll reads jobs, an export's start does not (but for a duplicate's original).
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    job_id: str = Field(validation_alias=AliasChoices("job_id", "jobId"))
    status: JobStatus
    job_type: str | None = _alias("job_type", "jobType")
    begin_time: datetime | None = _alias("begin_time", "beginTime")
    end_time: datetime | None = _alias("end_time", "endTime")
    error_code: str | None = _alias("error_code", "errorCode")
    fail_reason: str | None = _alias("fail_reason", "failReason")
    entities: JobEntities = JobEntities()

    @field_validator("status", mode="before")
    @classmethod
    def _status_in_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("entities", mode="before")
    @classmethod
    def _entities_of_any_shape(cls, value: Any) -> dict[str, Any]:
        return _entities_mapping(value)

    @field_validator("begin_time", "end_time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        return parse_job_time(value)

    @field_validator("job_type", "error_code", "fail_reason", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str | None:
        return _optional_text(value)

    @property
    def process_percent(self) -> float | None:
        return self.entities.process_percent


def _first(answer: Mapping[str, Any], *names: str) -> Any:
    return next((answer[name] for name in names if answer.get(name) not in (None, "")), None)


def read_job(answer: Any) -> Job:
    """The job in an IMS answer. UnreadableJob when it shows no job state (not an object, no readable
    status, no job id); UndocumentedStatus when the status is a string of an undocumented value."""
    if not isinstance(answer, Mapping):
        raise UnreadableJob("the answer is not a JSON object")
    status = _first(answer, "status")
    if not isinstance(status, str) or not status.strip():
        raise UnreadableJob("the answer has no readable status")
    if status.strip().upper() not in JobStatus.__members__:
        raise UndocumentedStatus(status.strip())
    job_id = _first(answer, "job_id", "jobId")
    if not isinstance(job_id, str | int) or isinstance(job_id, bool) or not str(job_id).strip():
        raise UnreadableJob("the answer has no job id")
    try:
        return Job.model_validate({**answer, "job_id": str(job_id).strip(), "status": status})
    except ValidationError as error:  # pragma: no cover - every hint is read tolerantly
        raise UnreadableJob(f"the answer is not a job ({error.error_count()} problems)") from None
