"""What ``python -X importtime`` says about a cold-start probe: the handler's imports and its first
call's, the heavy ones, and what each package costs on the cold path (``benchmarks/cold_start.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks._cold_probe import HANDLER_IMPORT_MARKER

# A heavy import on the cold path is one that takes longer than this (python -X importtime, cumulative).
HEAVY_IMPORT_MS = 25.0


@dataclass(frozen=True)
class ImportLine:
    module: str
    depth: int
    cumulative_ms: float
    ancestors: tuple[str, ...]


def parse_importtime(stderr: str) -> list[ImportLine]:
    """The handler's imports and its first call's, from ``python -X importtime`` output of the probe.

    Lines after the probe's marker only (Lambda's bootstrap has imported json, os and the like before).
    The handler's module is imported by importlib, which importtime does not list, so its own imports are
    at depth 0. Importtime prints a module after those it imports; read backwards, parents come first.
    """
    _, _, after = stderr.partition(HANDLER_IMPORT_MARKER)
    raw = []
    for line in after.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        raw.append((name.strip(), (len(name) - len(name.lstrip()) - 1) // 2, int(parts[1]) / 1000))
    lines: list[ImportLine] = []
    stack: list[str] = []
    for module, depth, cumulative_ms in reversed(raw):
        del stack[depth:]
        lines.append(ImportLine(module, depth, cumulative_ms, tuple(stack)))
        stack.append(module)
    return lines[::-1]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def heavy_imports(
    lines: Sequence[ImportLine], threshold_ms: float = HEAVY_IMPORT_MS
) -> list[tuple[str, float]]:
    """What the handler or its first call imports directly, at ``threshold_ms`` or more, largest first."""
    heavy = [(line.module, line.cumulative_ms) for line in lines if line.depth == 0]
    return sorted((item for item in heavy if item[1] >= threshold_ms), key=lambda item: -item[1])


def import_cost(lines: Sequence[ImportLine], package: str) -> float:
    """Cumulative ms of ``package`` and its modules wherever first imported, each counted once."""
    return sum(
        line.cumulative_ms
        for line in lines
        if _within(line.module, package) and not any(_within(parent, package) for parent in line.ancestors)
    )


# The packages behind the levers still open (issue 14's list), and what brings each onto the cold path.
