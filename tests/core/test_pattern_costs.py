"""Patterns that pydantic-core compiles when a model's validator is built (at import, for ``Settings``: at
every cold start) stay cheap: its Rust regex engine expands a counted repetition into that many copies of
what it repeats, which for a class matching non-ASCII characters (``\\S``, ``\\d``, ``[^...]``, ``.``, a
group) is large: ``[^\\s]{1,2000}`` alone cost about 20 ms of each cold start. Bound such a field with
``max_length`` and an unbounded ``+`` instead. Repeating a literal character or a class of ASCII
characters only is cheap and allowed."""

from __future__ import annotations

import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common" / "ims_export"
REPETITION = re.compile(r"\{(\d+)(?:,(\d*))?\}")
# A class of ASCII characters and ranges only, right before the repetition: its copies stay small.
ASCII_CLASS = re.compile(r"\[(?!\^)(?:[A-Za-z0-9_ .:/=+@-]|\\[-.])+\]$")
MOST_COPIES = 256


def costly_repetitions(pattern: str) -> Iterator[str]:
    for match in REPETITION.finditer(pattern):
        copies = max(int(match.group(1)), int(match.group(2) or 0))
        before = pattern[: match.start()]
        if copies <= MOST_COPIES or ASCII_CLASS.search(before):
            continue
        literal_character = before[-1:].isalnum() and before[-2:-1] != "\\"
        if not literal_character:
            yield match.group(0)


def string_literals(path: Path) -> Iterator[tuple[int, str]]:
    """The line and text of each string literal of a module (comments may quote a costly pattern)."""
    with path.open("rb") as source:
        for token in tokenize.tokenize(source.readline):
            if token.type == tokenize.STRING:
                yield token.start[0], token.string


def test_no_pattern_repeats_a_unicode_class_hundreds_of_times() -> None:
    costly = [
        f"{path.relative_to(LAYER)}:{number}: {repetition}"
        for path in sorted(LAYER.rglob("*.py"))
        for number, literal in string_literals(path)
        for repetition in costly_repetitions(literal)
    ]
    assert costly == []


@pytest.mark.parametrize(
    "pattern",
    [
        r"^arn:aws[a-z-]*:states:[^\s]{1,2000}$",
        r"\S{2000}",
        r"\S{2000,}",
        r"\d{1,1000}",
        r"(?:\S){1,2000}",
        r"[^\]]{1,2000}",
        r"[\s\S]{0,2000}",
        r"(?s:.){1,2000}",
        r".{0,4096}",
    ],
)
def test_the_check_sees_each_costly_form(pattern: str) -> None:
    assert list(costly_repetitions(pattern)) != []


@pytest.mark.parametrize(
    "pattern", [r"^[A-Za-z0-9_-]{1,1000}$", r"^[0-9]{1,12}$", r"a{1,500}", r"^[^=\s]{1,128}=[^\s]{0,255}$"]
)
def test_ascii_classes_literals_and_small_bounds_pass(pattern: str) -> None:
    assert list(costly_repetitions(pattern)) == []
