"""The IAM user's credentials, read from a JSON SecureString in SSM Parameter Store.

The parameter holds ``{"user_name": ..., "password": ..., "domain_name": ..., "project_name"?: ...,
"project_id"?: ...}``. Errors name the parameter and the broken fields, never the value.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ims_export.auth.parameter_store import (
    PARAMETER_NOT_FOUND,
    ParameterStore,
    parameter_error_code,
    throttled_read_error,
)
from ims_export.domain.credentials import Credentials
from ims_export.errors import ConfigurationError
from ims_export.parsing import describe_validation_error

# Credentials change rarely; a warm function re-reads them at most this often.
CREDENTIALS_MAX_AGE_SECONDS = 300


def load_credentials(
    ssm: ParameterStore, parameter_name: str, *, max_age: int = CREDENTIALS_MAX_AGE_SECONDS
) -> Credentials:
    """Read and validate the credentials, or raise ConfigurationError (the message never holds the value)."""
    # Imported here: Powertools Parameters brings boto3, and only a refresh reads the credentials.
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError  # noqa: PLC0415

    try:
        raw: Any = ssm.get(parameter_name, decrypt=True, max_age=max_age)
    except GetParameterError as error:
        code = parameter_error_code(error) or "GetParameterError"
        throttled = throttled_read_error(code, f"credentials parameter {parameter_name!r}")
        if throttled is not None:
            raise throttled from None
        reason = "does not exist" if code == PARAMETER_NOT_FOUND else "cannot be read"
        raise ConfigurationError(f"credentials parameter {parameter_name!r} {reason}", code=code) from None
    try:
        data = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError:
        raise ConfigurationError(
            f"credentials parameter {parameter_name!r} is not a JSON object", code="InvalidCredentials"
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"credentials parameter {parameter_name!r} is not a JSON object", code="InvalidCredentials"
        )
    try:
        return Credentials.model_validate(data)
    except ValidationError as error:
        raise ConfigurationError(
            f"credentials parameter {parameter_name!r} is invalid: {describe_validation_error(error)}",
            code="InvalidCredentials",
        ) from None
