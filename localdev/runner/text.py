"""How the runner writes what it prints: durations, counts, and lines cut to a readable length."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

# A line on stderr echoes values from the event or the cloud: it is cut to this length (as the outcome on
# stdout cuts them), and a value named inside a sentence (an image id) to the shorter one.
MAX_LINE_CHARS = 2000
MAX_VALUE_CHARS = 100


def duration(seconds: float) -> str:
    """The project's one way to write a duration (``ims_export.clock.duration_text``)."""
    from ims_export.clock import duration_text

    return duration_text(seconds)


def counted(count: Any, noun: str) -> str:
    """``1 poll``, ``2 polls``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def cut(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """``text``, cut to ``limit`` characters (marked by an ellipsis) when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def with_advice(sentence: str, advice: str | None) -> str:
    """``sentence; advice`` (a full stop that ends the sentence makes way for the semicolon)."""
    return f"{sentence.rstrip().rstrip('.')}; {advice}" if advice else sentence


def percent_text(percent: Any) -> str:
    return f"{percent:.1f} %" if isinstance(percent, int | float) else "n/a"


def image_phrase(outcome: Mapping[str, Any], fallback: str | None) -> str:
    """``image <id> (<name>)``; values from the event or the cloud, each cut to a readable length."""
    image_id = outcome.get("image_id") or fallback
    if not image_id:
        return "the image"
    name = outcome.get("image_name")
    image = f"image {cut(str(image_id), MAX_VALUE_CHARS)}"
    return f"{image} ({cut(str(name), MAX_VALUE_CHARS)})" if name else image


def one_line(text: str) -> str:
    """``text`` as one printable line of at most ``MAX_LINE_CHARS``: values from the input (an image
    id ending in a newline, an escape sequence, a huge value) must not split the closing line, drive
    the terminal or flood it."""
    return cut(" ".join("".join(char if char.isprintable() else " " for char in text).split()))


def say(stream: TextIO, text: str) -> None:
    """Print ``text``, each line cut short: lines echo values from the event and the cloud."""
    print("\n".join(cut(line) for line in text.split("\n")), file=stream, flush=True)
