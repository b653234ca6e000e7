"""Turn untrusted data into models, with one named error for anything malformed."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ims_export.errors import InvalidRequestError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_REPORTED_ERRORS = 5
# A location names the input's own keys, which may be anything: each is cut to this, on one line.
MAX_LOCATION_PART_CHARS = 64


def describe_validation_error(error: ValidationError) -> str:
    """Field locations and reasons only: offending values are never echoed (they may be huge or secret)."""
    parts = []
    for detail in error.errors(include_input=False, include_url=False)[:MAX_REPORTED_ERRORS]:
        location = ".".join(_location_part(item) for item in detail["loc"]) or "(root)"
        parts.append(f"{location}: {detail['msg']}")
    more = error.error_count() - MAX_REPORTED_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _location_part(item: object) -> str:
    text = "".join(char if char.isprintable() else "?" for char in str(item))
    return text if len(text) <= MAX_LOCATION_PART_CHARS else text[: MAX_LOCATION_PART_CHARS - 1] + "\u2026"


def parse_model(model: type[ModelT], data: Any) -> ModelT:
    """Validate ``data`` as ``model`` or raise InvalidRequestError naming the bad fields."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidRequestError(
            f"invalid {model.__name__}: {describe_validation_error(error)}", code="ValidationError"
        ) from None
