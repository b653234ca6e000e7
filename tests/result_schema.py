"""The result document's JSON Schema (docs/result.schema.json), for every test that sees one."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "result.schema.json"


@functools.cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def assert_valid_result(document: Any) -> None:
    """``document`` is one result as the schema describes it; the first mismatches are named."""
    errors = sorted(validator().iter_errors(document), key=lambda error: list(error.path))
    assert not errors, "not a result document: " + "; ".join(
        f"{'/'.join(map(str, error.path)) or '(root)'}: {error.message}"[:300] for error in errors[:5]
    )
