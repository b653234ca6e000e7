"""Run every benchmark module of this package in name order; exit non-zero if any missed its target."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from typing import cast

import benchmarks


def benchmark_entry_points() -> list[tuple[str, Callable[[], int]]]:
    """The ``main`` function of each module that has one (shared helper modules have none)."""
    found: list[tuple[str, Callable[[], int]]] = []
    for module_info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda info: info.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{benchmarks.__name__}.{module_info.name}")
        entry = getattr(module, "main", None)
        if callable(entry):
            found.append((module_info.name, cast(Callable[[], int], entry)))
    return found


def main(argv: list[str] | None = None) -> int:
    """Every benchmark's figures and targets. A report by default (exit 0, missed targets marked);
    ``--gate`` exits 1 when a target is missed."""
    gate = "--gate" in (sys.argv[1:] if argv is None else argv)
    failed: list[str] = []
    for name, entry in benchmark_entry_points():
        print(f"=== benchmark: {name} ===")
        if entry() != 0:
            failed.append(name)
        print()
    if failed:
        print(
            f"targets missed by: {', '.join(failed)}"
            + ("" if gate else " (a report: make bench-gate fails on it)")
        )
        return 1 if gate else 0
    print("every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
