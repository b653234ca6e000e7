"""Exported objects and their buckets as OBS shows them: what the pre-flight, the verification and
retention decide on (``cloud.obs`` reads them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ObjectInfo(BaseModel):
    """An object as HEAD or a listing shows it. ``last_modified`` is None if OBS's date is unreadable."""

    model_config = ConfigDict(frozen=True)

    key: str
    size_bytes: int = Field(ge=0)
    last_modified: datetime | None = None
    etag: str | None = None


class ObjectMissing(BaseModel):
    """HEAD answered 404: there is no such object (the bucket exists)."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str


class BucketInfo(BaseModel):
    """A bucket's storage class and location as OBS tells them (OBS's names: ``STANDARD``, ``WARM``,
    ``COLD``; a region id); None where OBS did not say."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    storage_class: str | None = None
    location: str | None = None
