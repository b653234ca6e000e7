"""The export request: what to export, where to, and in which format.

Validation follows the documented IMS rules so that a bad request is refused before any call is made:
OBS bucket naming, and the IMG.0073/0074/0075/0175 rules for the object (file) name.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ims_export.errors import InvalidRequestError

IMAGE_ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_IMAGE_ID = re.compile(IMAGE_ID_PATTERN)


def image_id(value: object) -> object:
    """An image id in the one spelling IMS uses (lower case): ``5B4C...`` and ``5b4c...`` are one image,
    one export, one duplicate claim. Anything else is refused in words, not with a pattern."""
    if isinstance(value, str) and _IMAGE_ID.fullmatch(value):
        return value.lower()
    raise ValueError("must be an image id: a UUID such as 5b4c8f0e-3a1d-4e7b-9c2a-1f6d8e9a0b11")


ImageId = Annotated[str, BeforeValidator(image_id)]

BUCKET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# IMG.0075: letters, digits, '-', '.', '_' (IMG.0175 then forbids the space that 0075 would allow).
OBJECT_SEGMENT_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")
MAX_OBJECT_NAME_LENGTH = 128  # IMG.0074


class FileFormat(StrEnum):
    QCOW2 = "qcow2"
    VHD = "vhd"
    ZVHD = "zvhd"
    VMDK = "vmdk"


def check_bucket_name(bucket: str) -> str:
    """Return ``bucket`` if it is a valid OBS bucket name, else raise InvalidRequestError."""
    if not BUCKET_NAME_PATTERN.fullmatch(bucket):
        raise InvalidRequestError(
            "bucket name must be 3-63 characters of lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit",
            code="InvalidBucketName",
        )
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        raise InvalidRequestError("bucket name must not contain '..', '.-' or '-.'", code="InvalidBucketName")
    try:
        ipaddress.ip_address(bucket)
    except ValueError:
        return bucket
    raise InvalidRequestError("bucket name must not be an IP address", code="InvalidBucketName")


def check_object_name(object_name: str) -> str:
    """Return ``object_name`` if IMS accepts it as the exported file's name, else raise."""
    if not object_name:
        raise InvalidRequestError("file name is empty", code="IMG.0073")
    if len(object_name) > MAX_OBJECT_NAME_LENGTH:
        raise InvalidRequestError(
            f"file name is longer than {MAX_OBJECT_NAME_LENGTH} characters", code="IMG.0074"
        )
    if " " in object_name:
        raise InvalidRequestError("folder and file names must not contain spaces", code="IMG.0175")
    segments = object_name.split("/")
    for segment in segments:
        if segment in ("", ".", "..") or not OBJECT_SEGMENT_PATTERN.fullmatch(segment):
            raise InvalidRequestError(
                "each folder and file name must be non-empty, not '.' or '..', and contain only "
                "letters, digits, '-', '.' and '_'",
                code="IMG.0075",
            )
    return object_name


def split_bucket_url(bucket_url: str) -> tuple[str, str]:
    """Split ``<bucket>:<object path>`` and validate both parts."""
    bucket, separator, object_name = bucket_url.partition(":")
    if not separator:
        raise InvalidRequestError(
            "bucket_url must look like '<bucket>:<object path>'", code="InvalidBucketUrl"
        )
    return check_bucket_name(bucket), check_object_name(object_name)


@dataclass(frozen=True)
class ExportTarget:
    """Where an export writes and in which format: the one value every step names a target by."""

    bucket_url: str  # ``<bucket>:<object path>``, as IMS takes it
    file_format: str | None = None  # a FileFormat's value; None for a quick export (IMS writes ZVHD2)
    is_quick_export: bool = False

    @property
    def bucket(self) -> str:
        return split_bucket_url(self.bucket_url)[0]

    @property
    def object_name(self) -> str:
        return split_bucket_url(self.bucket_url)[1]

    @property
    def format_words(self) -> str:
        return self.file_format or "ZVHD2 (quick export)"

    def fields(self) -> dict[str, str | bool | None]:
        """The target as the outcome, the records and the state machine's payload name it."""
        return {
            "bucket_url": self.bucket_url,
            "file_format": self.file_format,
            "is_quick_export": self.is_quick_export,
        }


def export_subject(
    image_id: str,
    image_name: str | None = None,
    bucket_url: str | None = None,
    *,
    file_format: str | None = None,
) -> str:
    """How every message names an export: ``image <id> (<name>) to <bucket>:<object> as <format>``, each
    part where it is known (the format where the rest of the message does not give it)."""
    image = f"image {image_id}" + (f" ({image_name})" if image_name else "")
    target = f" to {bucket_url}" if bucket_url else ""
    return image + target + (f" as {file_format}" if file_format and target else "")


class ExportRequest(BaseModel):
    """One image to export: the body of ``POST /v1/cloudimages/{image_id}/file`` plus the image id."""

    # Built on first use: only the start validates one; the check imports this module for ExportTarget.
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False, defer_build=True)

    image_id: ImageId
    bucket_url: Annotated[str, Field(min_length=5, max_length=63 + 1 + MAX_OBJECT_NAME_LENGTH)]
    file_format: FileFormat | None = None
    is_quick_export: bool = False

    @model_validator(mode="after")
    def _check_rules(self) -> ExportRequest:
        split_bucket_url(self.bucket_url)
        if self.is_quick_export and self.file_format is not None:
            raise InvalidRequestError(
                "file_format cannot be given with is_quick_export (quick export writes ZVHD2)",
                code="QuickExportWithFormat",
            )
        if not self.is_quick_export and self.file_format is None:
            raise InvalidRequestError(
                "file_format is required unless is_quick_export is true", code="MissingFileFormat"
            )
        return self

    @property
    def target(self) -> ExportTarget:
        return ExportTarget(
            self.bucket_url,
            self.file_format.value if self.file_format else None,
            self.is_quick_export,
        )

    def api_body(self) -> dict[str, str | bool]:
        """The JSON body IMS expects; ``file_format`` is left out for a quick export."""
        body: dict[str, str | bool] = {"bucket_url": self.bucket_url}
        if self.is_quick_export:
            body["is_quick_export"] = True
        elif self.file_format is not None:  # always set here: _check_rules requires it
            body["file_format"] = self.file_format.value
        return body
