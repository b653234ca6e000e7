"""The image as listed by ``GET /v2/cloudimages``, and the exportability pre-check.

IMS stays authoritative; the pre-check only refuses early what the documentation says IMS refuses,
so that no export is started for an image that cannot succeed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

GIB = 1024**3
QUICK_EXPORT_ONLY_ABOVE_BYTES = 128 * GIB
MAX_EXPORT_BYTES = 1024 * GIB
# OTC: private images derived from these public images cannot be exported.
RESTRICTED_PLATFORMS = frozenset({"windows", "suse", "red hat", "redhat", "ubuntu", "oracle linux"})


class ImageStatus(StrEnum):
    QUEUED = "queued"
    SAVING = "saving"
    ACTIVE = "active"
    DELETED = "deleted"
    KILLED = "killed"

    @property
    def pending(self) -> bool:
        """Still being created: worth waiting for."""
        return self in (ImageStatus.QUEUED, ImageStatus.SAVING)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


class Image(BaseModel):
    """The fields needed to judge exportability; IMS sends almost everything as strings."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    name: str = ""
    status: ImageStatus
    owner: str | None = None
    visibility: str | None = None
    imagetype: str | None = Field(default=None, alias="__imagetype")
    whole_image: bool = Field(default=False, alias="__whole_image")
    virtual_env_type: str | None = None
    image_size_bytes: int | None = Field(default=None, alias="__image_size")
    min_disk_gb: int | None = Field(default=None, alias="min_disk")
    platform: str | None = Field(default=None, alias="__platform")
    os_type: str | None = Field(default=None, alias="__os_type")
    system_cmkid: str | None = Field(default=None, alias="__system__cmkid")
    backup_id: str | None = Field(default=None, alias="__backup_id")
    product_code: str | None = Field(default=None, alias="__productcode")
    original_image_name: str | None = Field(default=None, alias="__originalimagename")
    disk_format: str | None = None
    created_at: str | None = None

    @field_validator("whole_image", mode="before")
    @classmethod
    def _parse_bool(cls, value: Any) -> bool:
        return _to_bool(value)

    @field_validator("image_size_bytes", "min_disk_gb", mode="before")
    @classmethod
    def _parse_int(cls, value: Any) -> Any:
        if value in ("", None):
            return None
        return int(value)

    @field_validator(
        "system_cmkid", "backup_id", "product_code", "original_image_name", "platform", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @property
    def encrypted(self) -> bool:
        return self.system_cmkid is not None

    @property
    def size_bytes(self) -> int:
        """The larger of ``__image_size`` and ``min_disk``: the docs do not say which one the limits mean."""
        from_disk = (self.min_disk_gb or 0) * GIB
        return max(self.image_size_bytes or 0, from_disk)

    @property
    def restricted_platform(self) -> bool:
        return (self.platform or "").strip().lower() in RESTRICTED_PLATFORMS
