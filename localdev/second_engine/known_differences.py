"""The table of known differences between the engines, read from ``docs/engines.md``.

Each row names where a difference may appear (a pattern over ``<scenario>:<execution or resource>.<what>``,
as ``parity.Difference.where`` spells it), what each engine does, why, and the source. A difference the
parity tests find that no row explains fails them; a row is only there with its reason and source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from localdev.second_engine.parity import Difference

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "engines.md"
HEADING = "## Known differences"
_ROW = re.compile(r"^\|\s*`(?P<pattern>[^`]+)`\s*\|(?P<cells>.*)\|\s*$")


@dataclass(frozen=True)
class KnownDifference:
    pattern: str
    reason: str
    source: str

    def explains(self, difference: Difference) -> bool:
        """``*`` matches any text, every other character itself (brackets included)."""
        pattern = ".*".join(re.escape(part) for part in self.pattern.split("*"))
        return re.fullmatch(pattern, difference.where) is not None


@dataclass(frozen=True)
class KnownDifferences:
    rows: tuple[KnownDifference, ...]

    @classmethod
    def load(cls, document: Path = DOCUMENT) -> KnownDifferences:
        return cls.parse(document.read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> KnownDifferences:
        """The rows of the table under the heading: pattern, moto, LocalStack, reason, source."""
        _, found, section = text.partition(HEADING)
        if not found:
            raise ValueError(f"no {HEADING!r} section")
        rows = []
        for line in section.split("\n## ", 1)[0].splitlines():
            match = _ROW.match(line.strip())
            if match is None:
                continue
            cells = [cell.strip() for cell in match.group("cells").split("|")]
            if len(cells) != 4 or not cells[2] or not cells[3]:
                raise ValueError(
                    f"a known difference needs moto, LocalStack, reason and source: {line.strip()}"
                )
            rows.append(KnownDifference(match.group("pattern"), reason=cells[2], source=cells[3]))
        return cls(tuple(rows))

    def unexplained(self, differences: Iterable[Difference]) -> list[Difference]:
        return [
            difference for difference in differences if not any(row.explains(difference) for row in self.rows)
        ]
