"""The exported object's name, from a pattern (``exports/{image_name}-{image_id}-{date}.{format}``).

IMS never overwrites an object (IMG.0070), so the default pattern carries the image id and the date.
Image names may hold characters IMS refuses in object names (IMG.0075/0175): they are replaced.
"""

from __future__ import annotations

import re
import string
from datetime import datetime

from ims_export.domain.export_request import MAX_OBJECT_NAME_LENGTH, check_object_name
from ims_export.errors import ConfigurationError, InvalidRequestError

PLACEHOLDERS = frozenset({"image_name", "image_id", "date", "time", "timestamp", "format"})
QUICK_EXPORT_EXTENSION = "zvhd2"  # quick export always writes ZVHD2
FALLBACK_IMAGE_NAME = "image"
_DISALLOWED = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_name_part(value: str) -> str:
    """``value`` with every run of characters IMS refuses replaced by one '-'; never empty."""
    cleaned = _DISALLOWED.sub("-", value).strip("-.")
    return cleaned or FALLBACK_IMAGE_NAME


def pattern_fields(pattern: str) -> set[str]:
    """The placeholder names of ``pattern``; ConfigurationError for unknown or malformed ones, and for
    a format spec or conversion (``{image_id:.0}`` would drop the id, ``{format:>9999}`` pad it)."""
    try:
        parsed = [
            (field, spec, conversion) for _, field, spec, conversion in string.Formatter().parse(pattern)
        ]
    except ValueError as error:
        raise ConfigurationError(f"export object pattern is malformed: {error}") from None
    fields = {field for field, _, _ in parsed if field is not None}
    shaped = sorted(
        {field for field, spec, conversion in parsed if field is not None and (spec or conversion)}
    )
    if shaped:
        raise ConfigurationError(
            f"export object pattern gives placeholders a format of their own ({', '.join(shaped)}): "
            f"write each as {{name}} only; their formats are fixed ({{date}} is YYYYMMDD, {{time}} HHMMSS)"
        )
    unknown = fields - PLACEHOLDERS
    if unknown:
        raise ConfigurationError(
            f"export object pattern has unknown placeholders {sorted(unknown)}; "
            f"allowed: {sorted(PLACEHOLDERS)}"
        )
    return fields


def check_pattern(pattern: str) -> None:
    """ConfigurationError unless ``pattern`` renders an object name IMS takes (tried on a sample)."""
    render_object_name(
        pattern,
        image_name="image",
        image_id="00000000-0000-4000-8000-000000000000",
        extension="qcow2",
        now=datetime(2000, 1, 1),
    )


def render_object_name(pattern: str, *, image_name: str, image_id: str, extension: str, now: datetime) -> str:
    """The object name for this image; the image name is shortened if the whole would exceed 128 chars."""
    pattern_fields(pattern)
    values = {
        "image_id": image_id,
        "date": now.strftime("%Y%m%d"),
        "time": now.strftime("%H%M%S"),
        "timestamp": now.strftime("%Y%m%dT%H%M%SZ"),
        "format": extension,
    }
    name_part = sanitize_name_part(image_name)
    rendered = pattern.format(image_name=name_part, **values)
    excess = len(rendered) - MAX_OBJECT_NAME_LENGTH
    if excess > 0 and "{image_name}" in pattern:
        shortened = name_part[: max(len(name_part) - excess, 1)].rstrip("-.") or name_part[:1]
        rendered = pattern.format(image_name=shortened, **values)
    try:
        return check_object_name(rendered)
    except InvalidRequestError as error:
        raise ConfigurationError(
            f"export object pattern renders an object name IMS refuses: {error.message}", code=error.code
        ) from None
