"""Every row of the fault matrix, run through the local runner against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from localdev.fault_matrix.cases import FaultCase
from localdev.fault_matrix.observe import Observation, run_case
from localdev.fault_matrix.rows import CASES
from localdev.fault_matrix.table import markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "fault-matrix.md"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.key)
def test_fault_row_reaches_its_expected_outcome(case: FaultCase) -> None:
    observation = run_case(case)

    assert observation.outcome == case.expected, observation.log[-3000:]
    assert observation.outcome.export_jobs <= 1


def test_the_documented_matrix_is_the_expected_one() -> None:
    # docs/fault-matrix.md is the script's output; when a row changes, run the script again.
    expected_table = markdown_table([Observation(case, case.expected) for case in CASES])

    assert expected_table in DOC.read_text(encoding="utf-8")


def test_a_differing_row_is_marked_in_the_table() -> None:
    case = CASES[0]
    differing = Observation(case, case.expected.__class__("FAILED", "Boom", 2, 5))

    table = markdown_table([differing])

    assert "**differs**" in table
    assert "| FAILED | Boom | 2 | 5 |" in table
