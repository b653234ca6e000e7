"""docs/outcomes.md names every field an outcome can carry, and no other."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from ims_export.steps.outcome import OPTIONAL_JOB_FIELDS
from ims_export.steps.outcome_payloads import Outcome

OUTCOMES = (Path(__file__).resolve().parents[2] / "docs" / "outcomes.md").read_text(encoding="utf-8")


def _field_table_rows() -> dict[str, str]:
    """The Outcomes field table: each name of a row's first cell -> the row's meaning."""
    section = OUTCOMES[OUTCOMES.index("# Outcomes\n") :]
    rows: dict[str, str] = {}
    for line in section.splitlines()[1:]:
        if line.startswith("| `"):
            first, meaning = line.split("|")[1:3]
            rows.update(dict.fromkeys(re.findall(r"`([a-z_]+)`", first), meaning))
        elif rows:
            break
    return rows


def test_the_field_table_lists_every_field_of_an_outcome() -> None:
    assert set(_field_table_rows()) == set(Outcome.model_fields) | set(OPTIONAL_JOB_FIELDS)


def test_the_stage_row_names_every_stage() -> None:
    stages = get_args(Outcome.model_fields["stage"].annotation)
    meaning = _field_table_rows()["stage"]
    assert [stage for stage in stages if f"`{stage}`" not in meaning] == []
