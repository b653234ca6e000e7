"""Patterns that pydantic-core compiles when a model's validator is built (at import, for ``Settings``: at
every cold start) stay cheap: its Rust regex engine expands a counted repetition of a Unicode class
(``\\S``, ``[^...]``, ``.``) into that many copies, so ``[^\\s]{1,2000}`` alone cost about 20 ms of each
cold start. Bound such a field with ``max_length`` and an unbounded ``+`` instead."""

from __future__ import annotations

import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common" / "ims_export"
# A repetition of a class that matches non-ASCII characters, with its upper bound.
UNICODE_REPETITION = re.compile(r"(\\S|\\W|\\D|\[\^[^\]]*\]|(?<!\\)\.)\{\d*,(\d+)\}")
MOST_COPIES = 256


def string_literals(path: Path) -> Iterator[tuple[int, str]]:
    """The line and text of each string literal of a module (comments may quote a costly pattern)."""
    with path.open("rb") as source:
        for token in tokenize.tokenize(source.readline):
            if token.type == tokenize.STRING:
                yield token.start[0], token.string


def test_no_pattern_repeats_a_unicode_class_hundreds_of_times() -> None:
    costly = [
        f"{path.relative_to(LAYER)}:{number}: {match.group(0)}"
        for path in sorted(LAYER.rglob("*.py"))
        for number, literal in string_literals(path)
        for match in UNICODE_REPETITION.finditer(literal)
        if int(match.group(2)) > MOST_COPIES
    ]
    assert costly == []


def test_the_check_sees_the_costly_form() -> None:
    assert UNICODE_REPETITION.search(r'pattern=r"^arn:aws[a-z-]*:states:[^\s]{1,2000}$"')
    assert UNICODE_REPETITION.search(r"\S{0,4096}")
    assert not UNICODE_REPETITION.search(r"^[A-Za-z0-9_-]{1,128}$")
