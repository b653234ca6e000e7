"""``GET /v2/cloudimages``: the IMS API reference's filters ("Querying Images"), sorting, paging.

Unknown query parameters are refused (IMG.0001) rather than ignored, so that a misspelt filter in a
client shows up here instead of silently listing every image.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from localdev.emulator.clock import parse_iso
from localdev.emulator.model import EmulatedImage
from localdev.emulator.replies import ims_error

DEFAULT_LIMIT = 500
MAX_LIMIT = 500
# Filters that compare the field of the same name as text (booleans case-insensitively).
EXACT_FILTERS = frozenset(
    {
        "id",
        "name",
        "status",
        "owner",
        "visibility",
        "protected",
        "container_format",
        "disk_format",
        "min_disk",
        "min_ram",
        "virtual_env_type",
        "__imagetype",
        "__platform",
        "__os_type",
        "__os_bit",
        "__whole_image",
        "__system__cmkid",
    }
)
TIME_FILTERS = frozenset({"created_at", "updated_at"})
SORT_KEYS = frozenset({"created_at", "updated_at", "name", "id"})
PAGING = frozenset({"marker", "limit", "sort_key", "sort_dir"})
TIME_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}


def _single(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ims_error("IMG.0001", f"Query parameter {name} is given more than once.")
    return values[0]


def _time_predicate(name: str, expression: str) -> Callable[[EmulatedImage], bool]:
    op_name, separator, moment = expression.partition(":")
    compare = TIME_OPERATORS.get(op_name)
    if not separator or compare is None:
        raise ims_error("IMG.0001", f"{name} must look like '<gt|gte|lt|lte|eq|neq>:<time>'.")
    try:
        limit = parse_iso(moment)
    except ValueError:
        raise ims_error("IMG.0001", f"{name} has an invalid time: {moment!r}.") from None
    return lambda image: compare(parse_iso(image.text(name)), limit)


def _exact_predicate(name: str, wanted: str) -> Callable[[EmulatedImage], bool]:
    def matches(image: EmulatedImage) -> bool:
        actual = image.text(name)
        if wanted.lower() in ("true", "false"):
            return actual.lower() == wanted.lower()
        return actual == wanted

    return matches


def _tag_predicate(tag: str) -> Callable[[EmulatedImage], bool]:
    # Tags are stored as "key=value" strings; the filter is tag=key=value.
    return lambda image: tag in (image.record.get("tags") or [])


def _predicates(query: Mapping[str, list[str]]) -> list[Callable[[EmulatedImage], bool]]:
    predicates: list[Callable[[EmulatedImage], bool]] = []
    for name, values in query.items():
        if name in PAGING:
            continue
        if name == "tag":
            predicates.extend(_tag_predicate(value) for value in values)
        elif name in TIME_FILTERS:
            predicates.extend(_time_predicate(name, value) for value in values)
        elif name in EXACT_FILTERS:
            predicates.append(_exact_predicate(name, _single(query, name) or ""))
        else:
            raise ims_error("IMG.0001", f"Unsupported query parameter: {name}.")
    return predicates


def _limit(query: Mapping[str, list[str]]) -> int:
    text = _single(query, "limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or int(text) < 1:
        raise ims_error("IMG.0001", "limit must be a positive integer.")
    return min(int(text), MAX_LIMIT)


def _sorted(images: list[EmulatedImage], query: Mapping[str, list[str]]) -> list[EmulatedImage]:
    sort_key = _single(query, "sort_key") or "created_at"
    sort_dir = _single(query, "sort_dir") or "desc"
    if sort_key not in SORT_KEYS or sort_dir not in ("asc", "desc"):
        raise ims_error("IMG.0001", "sort_key or sort_dir is invalid.")
    # The id breaks ties so that marker paging is stable.
    return sorted(images, key=lambda image: (image.text(sort_key), image.id), reverse=sort_dir == "desc")


def list_images(images: Iterable[EmulatedImage], query: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """One page of images matching ``query`` (parsed query string, values as lists)."""
    predicates = _predicates(query)
    limit = _limit(query)
    matching = _sorted([image for image in images if all(p(image) for p in predicates)], query)
    marker = _single(query, "marker")
    if marker is not None:
        position = next((i for i, image in enumerate(matching) if image.id == marker), None)
        if position is None:
            raise ims_error("IMG.0001", f"The marker image {marker} could not be found.")
        matching = matching[position + 1 :]
    return [image.api_record() for image in matching[:limit]]
