"""Which earlier exports of an image a retention rule retires: pure selection, no I/O.

Only names that the configured object pattern (``naming.py``) could have produced for this image id
are candidates: the pattern becomes a regular expression with its literal parts escaped, the image id
fixed, the image name a permissive segment and the time fields their exact digit shapes. Anything
else under the prefix (other images, other patterns, files someone put there) is never touched, nor
is the object just written. Of the candidates the newest ``keep`` survive (the new one among them),
ordered by the time in their names where the pattern has one, else by OBS's last-modified time.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from datetime import UTC, datetime

from ims_export.domain.export_request import FileFormat
from ims_export.domain.naming import QUICK_EXPORT_EXTENSION, pattern_fields
from ims_export.domain.objects import ObjectInfo
from ims_export.errors import ConfigurationError

# What each placeholder renders to (naming.render_object_name), as a regular expression.
_IMAGE_NAME = r"[A-Za-z0-9._-]+"  # sanitize_name_part keeps only these, and may shorten the name
_FIELD_EXPRESSIONS = {
    "image_name": _IMAGE_NAME,
    # [0-9], not \d: \d also matches Arabic-Indic or full-width digits, which no pattern renders.
    "date": r"[0-9]{8}",
    "time": r"[0-9]{6}",
    "timestamp": r"[0-9]{8}T[0-9]{6}Z",
    "format": "|".join(
        re.escape(value) for value in [*(f.value for f in FileFormat), QUICK_EXPORT_EXTENSION]
    ),
}
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def listing_prefix(pattern: str) -> str:
    """The literal text before the pattern's first placeholder: where to list."""
    pattern_fields(pattern)
    prefix = ""
    for literal, field, _spec, _conversion in string.Formatter().parse(pattern):
        prefix += literal
        if field is not None:
            break
    return prefix  # parse() has already turned "{{" and "}}" into braces


def name_expression(pattern: str, image_id: str) -> re.Pattern[str]:
    """A full-match expression for the names ``pattern`` renders for ``image_id``."""
    fields = pattern_fields(pattern)
    if "image_id" not in fields:
        raise ConfigurationError(
            "retention needs {image_id} in the export object pattern: without it, no name can be "
            "told apart from another image's export"
        )
    parts: list[str] = []
    seen: set[str] = set()
    for literal, field, spec, conversion in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field is None:
            continue
        if spec or conversion:
            raise ConfigurationError(
                f"retention cannot read placeholders with a format spec ({{{field}...}})"
            )
        if field == "image_id":
            parts.append(re.escape(image_id))
        elif field in seen:
            parts.append(f"(?P={field})")  # the same value again
        else:
            parts.append(f"(?P<{field}>{_FIELD_EXPRESSIONS[field]})")
            seen.add(field)
    return re.compile("".join(parts))


def _name_time(match: re.Match[str]) -> datetime | None:
    """The export time the name carries (timestamp, or date and time, or date), if any."""
    groups = match.groupdict()
    try:
        if groups.get("timestamp"):
            return datetime.strptime(groups["timestamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if groups.get("date"):
            text = groups["date"] + (groups.get("time") or "000000")
            return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None  # digits that are no date: ordered as if oldest, by last-modified among themselves
    return None


def select_for_deletion(
    pattern: str,
    image_id: str,
    listing: Iterable[ObjectInfo],
    *,
    keep: int,
    just_written: str,
) -> list[ObjectInfo]:
    """The exports of ``image_id`` to delete so that the newest ``keep`` remain, oldest first.

    ``keep`` 0 keeps everything. ``just_written`` counts among the kept even if the listing does not
    show it yet, and is never returned.
    """
    if keep < 0:
        raise ConfigurationError("the retention count must not be negative")
    if keep == 0:
        return []
    expression = name_expression(pattern, image_id)
    ranked: dict[str, tuple[tuple[datetime, datetime, str], ObjectInfo]] = {}
    for item in listing:
        match = expression.fullmatch(item.key)
        if match is None or item.key == just_written:
            continue
        age = (_name_time(match) or _EARLIEST, item.last_modified or _EARLIEST, item.key)
        ranked[item.key] = (age, item)
    newest_first = sorted(ranked.values(), key=lambda entry: entry[0], reverse=True)
    survivors = keep - 1  # the object just written is one of the kept
    return [item for _age, item in reversed(newest_first[survivors:])]
