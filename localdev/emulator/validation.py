"""The documented rules of ``POST /v1/cloudimages/{image_id}/file``, each with its IMG code.

Every check raises ``ApiError`` (400, IMS error body) and has no side effect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from localdev.emulator.model import GIB, Bucket, EmulatedImage
from localdev.emulator.replies import ims_error

FILE_FORMATS = frozenset({"qcow2", "vhd", "zvhd", "vmdk"})
BODY_FIELDS = frozenset({"bucket_url", "file_format", "is_quick_export"})
QUICK_EXPORT_ONLY_ABOVE_BYTES = 128 * GIB
MAX_EXPORT_BYTES = 1024 * GIB
RESTRICTED_PLATFORMS = frozenset({"windows", "suse", "red hat", "redhat", "ubuntu", "oracle linux"})
MAX_OBJECT_NAME_LENGTH = 128

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_OBJECT_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class ExportOrder:
    bucket: str
    object_name: str
    file_format: str | None  # None: quick export (ZVHD2)

    @property
    def quick(self) -> bool:
        return self.file_format is None


def parse_export_body(body: Any) -> ExportOrder:
    """Check the request body alone: shape, bucket_url syntax and the format rules."""
    if not isinstance(body, dict):
        raise ims_error("IMG.0001", "The request body must be a JSON object.")
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise ims_error("IMG.0001", f"Unknown request field(s): {', '.join(unknown)}.")
    bucket_url = body.get("bucket_url")
    if not isinstance(bucket_url, str):
        raise ims_error("IMG.0001", "bucket_url is mandatory and must be a string.")
    quick = body.get("is_quick_export", False)
    if not isinstance(quick, bool):
        raise ims_error("IMG.0001", "is_quick_export must be a boolean.")
    bucket, _, object_name = bucket_url.partition(":")
    check_bucket_name(bucket)
    check_object_name(object_name)
    file_format = body.get("file_format")
    if quick:
        if file_format is not None:
            raise ims_error(
                "IMG.0001",
                "file_format cannot be specified when is_quick_export is true "
                "(a quick export always writes ZVHD2).",
            )
        return ExportOrder(bucket, object_name, None)
    if file_format is None:
        raise ims_error("IMG.0001", "file_format is mandatory unless is_quick_export is true.")
    if file_format not in FILE_FORMATS:
        raise ims_error("IMG.0072", "The file format is not supported. Supported: qcow2, vhd, zvhd, vmdk.")
    return ExportOrder(bucket, object_name, str(file_format))


def check_bucket_name(bucket: str) -> None:
    if not bucket:
        raise ims_error("IMG.0068", "The bucket name is empty.")
    if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise ims_error("IMG.0109", "The bucket name contains invalid characters.")


def check_object_name(object_name: str) -> None:
    if not object_name:
        raise ims_error("IMG.0073", "The image file name is empty.")
    if len(object_name) > MAX_OBJECT_NAME_LENGTH:
        raise ims_error("IMG.0074", "The image file name is too long (1 to 128 characters).")
    if " " in object_name:
        raise ims_error("IMG.0175", "Folder and file names cannot contain spaces.")
    for segment in object_name.split("/"):
        if segment in ("", ".", "..") or not _OBJECT_SEGMENT.fullmatch(segment):
            raise ims_error(
                "IMG.0075",
                "The image file name contains invalid characters (only letters, digits, '-', '.' and '_').",
            )


def check_bucket(order: ExportOrder, buckets: Mapping[str, Bucket], region: str) -> None:
    """The bucket must exist, be reachable (registered with the emulator) and be in the region."""
    bucket = buckets.get(order.bucket)
    if bucket is None:
        raise ims_error("IMG.0069", "The OBS bucket does not exist or cannot be accessed.")
    if bucket.region != region:
        raise ims_error("IMG.0058", "The region of the bucket differs from the region of the user.")


def check_exportable(
    image: EmulatedImage, order: ExportOrder, project_id: str, parent: EmulatedImage | None
) -> None:
    """The kinds of image IMS refuses to export, in the order of the documented pre-check."""
    if image.text("__imagetype") == "gold" or image.text("visibility") == "public":
        raise ims_error("IMG.0077", "Public images cannot be exported.")
    if image.text("owner") != project_id:
        raise ims_error("IMG.0047", "Only the image owner can perform this operation.")
    if image.status != "active":
        raise ims_error("IMG.0046", "The image is unavailable. Check the image status.")
    if image.flag("__whole_image"):
        raise ims_error("IMG.0128", "Full-ECS images cannot be exported.")
    if image.text("virtual_env_type") == "IsoImage":
        raise ims_error("IMG.0071", "The image cannot be exported: ISO images cannot be exported.")
    if image.text("__backup_id"):
        raise ims_error("IMG.0080", "Images created from a CSBS or CBR backup cannot be exported.")
    if image.text("__productcode"):
        raise ims_error("IMG.0079", "System disk images created from a charged image cannot be exported.")
    parent_is_gold = parent is not None and parent.text("__imagetype") == "gold"
    if parent_is_gold and image.text("__platform").strip().lower() in RESTRICTED_PLATFORMS:
        raise ims_error(
            "IMG.0071",
            f"The image cannot be exported: it was created from a {image.text('__platform')} public image.",
        )
    if image.size_bytes >= MAX_EXPORT_BYTES:
        raise ims_error("IMG.0071", "The image cannot be exported: it must be smaller than 1 TB.")
    if image.size_bytes > QUICK_EXPORT_ONLY_ABOVE_BYTES and not order.quick:
        raise ims_error(
            "IMG.0160",
            "Only images less than 128 GB can be exported; use is_quick_export for larger images.",
        )
    if order.quick and image.encrypted:
        raise ims_error(
            "IMG.0071",
            "The image cannot be exported: fast export is not supported for encrypted images.",
        )
