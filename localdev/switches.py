"""The values a make switch takes (``VERBOSE=``, ``APPLY=``, ``UNDO=``): one reading for every command,
so that ``APPLY=yes`` means what ``VERBOSE=yes`` means."""

from __future__ import annotations

ON = frozenset({"1", "yes", "true", "on"})
OFF = frozenset({"", "0", "no", "false", "off"})


def switch_value(text: str) -> bool | None:
    """On (True), off (False, also nothing given), or None for any other value (the caller refuses it)."""
    value = text.strip().lower()
    if value in ON:
        return True
    if value in OFF:
        return False
    return None
