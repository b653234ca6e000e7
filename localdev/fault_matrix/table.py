"""The fault matrix as a markdown table: every row's expected outcome next to what was observed
(``docs/fault-matrix.md``)."""

from __future__ import annotations

from collections.abc import Sequence

from localdev.fault_matrix.cases import Outcome
from localdev.fault_matrix.observe import Observation


def _cell(value: object) -> str:
    return "-" if value is None else str(value).replace("|", "\\|")


def markdown_table(observations: Sequence[Observation]) -> str:
    """The matrix: expected outcome of every row next to what was observed."""
    lines = [
        "| Area | Fault | Terminal state | Error | Export jobs | IAM token calls | Expected | Note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for observation in observations:
        case, seen = observation.case, observation.outcome
        verdict = (
            "as expected" if observation.as_expected else f"**differs** (expected {_describe(case.expected)})"
        )
        cells = (
            case.area,
            case.fault,
            seen.status,
            seen.error,
            seen.export_jobs,
            seen.iam_calls,
            verdict,
            case.why,
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _describe(outcome: Outcome) -> str:
    error = f" {outcome.error}" if outcome.error else ""
    return f"{outcome.status}{error}, {outcome.export_jobs} job(s), {outcome.iam_calls} IAM call(s)"
