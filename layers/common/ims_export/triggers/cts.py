"""Cloud Trace Service (CTS) traces of IMS: find the image a ``createImage`` trace is about.

The trace layout is documented loosely (see the notifications reference): ``request``/``response``
may be JSON strings or objects, the rating is ``trace_rating`` or ``trace_status``, and the image id
is in ``resource_id`` or in ``response.entities.image_id``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ims_export.domain.export_request import IMAGE_ID_PATTERN

IMAGE_CREATED_TRACE_NAMES = frozenset({"createImage"})
IMS_SERVICE_TYPES = frozenset({"IMS"})
IMS_RESOURCE_TYPES = frozenset({"ims", "image"})
NORMAL_RATING = "normal"
_UUID = re.compile(IMAGE_ID_PATTERN)


def _as_mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, Mapping) else {}
    return {}


# Trace fields read as text: any other type makes the trace malformed.
TEXT_FIELDS = ("trace_id", "trace_name", "service_type", "resource_type", "trace_rating", "trace_status")


def check_trace_types(trace: Mapping[str, Any]) -> None:
    """ValueError when a field read as text is present with another type (a list, a number...)."""
    for name in TEXT_FIELDS:
        if trace.get(name) is not None and not isinstance(trace[name], str):
            raise ValueError(f"{name} must be a string")


def trace_id(trace: Mapping[str, Any]) -> str | None:
    """The trace's own id, the same in every delivery of it; None if absent."""
    value = trace.get("trace_id")
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


def is_image_created_trace(trace: Mapping[str, Any]) -> bool:
    """A successful ``createImage`` trace of IMS (False for a malformed one, never an exception)."""
    try:
        check_trace_types(trace)
    except ValueError:
        return False
    # normal, warning (failed) or incident are documented; only a normal trace is a created image.
    rating = str(trace.get("trace_rating") or trace.get("trace_status") or "normal").lower()
    return (
        trace.get("trace_name") in IMAGE_CREATED_TRACE_NAMES
        and str(trace.get("service_type", "IMS")).upper() in IMS_SERVICE_TYPES
        and str(trace.get("resource_type", "image")).lower() in IMS_RESOURCE_TYPES
        and rating == NORMAL_RATING
    )


def image_id_from_trace(trace: Mapping[str, Any]) -> str | None:
    """The image id of a trace: ``resource_id``, else ``response.entities.image_id``; None if absent."""
    candidates = [
        trace.get("resource_id"),
        _as_mapping(_as_mapping(trace.get("response")).get("entities")).get("image_id"),
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and _UUID.fullmatch(candidate):
            return candidate.lower()
    return None
