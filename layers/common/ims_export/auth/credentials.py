"""The IAM user's credentials, read from a JSON SecureString in SSM Parameter Store.

The parameter holds ``{"user_name": ..., "password": ..., "domain_name": ..., "project_name"?: ...,
"project_id"?: ...}``. Errors name the parameter and the broken fields, never the value.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ims_export.errors import ConfigurationError, UpstreamThrottledError
from ims_export.parsing import describe_validation_error

if TYPE_CHECKING:
    from ims_export.auth.parameter_store import ParameterStore

# Credentials change rarely; a warm function re-reads them at most this often.
CREDENTIALS_MAX_AGE_SECONDS = 300
PARAMETER_NOT_FOUND = "ParameterNotFound"
# SSM's throttling codes: the read is retried later, it is no configuration problem.
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})

NonEmpty = Annotated[str, Field(min_length=1)]


class Credentials(BaseModel):
    """An IAM user (password authentication) and, optionally, the project to scope tokens to."""

    # Built on first use: only a token refresh reads the credentials.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    user_name: NonEmpty
    password: Annotated[SecretStr, Field(min_length=1)]
    domain_name: NonEmpty
    project_name: NonEmpty | None = None
    project_id: NonEmpty | None = None


def parameter_error_code(error: BaseException) -> str | None:
    """The AWS error code (``ParameterNotFound``, ``AccessDeniedException``...) behind a Powertools error.

    Powertools wraps the botocore ClientError without ``from``; it is still the implicit context.
    """
    cause = error.__cause__ or error.__context__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str):
            return code
    return None


def throttled_read_error(code: str | None, what: str) -> UpstreamThrottledError | None:
    """The transient error for a throttled SSM read of ``what``; None if ``code`` is no throttling."""
    if code not in THROTTLING_CODES:
        return None
    return UpstreamThrottledError(f"{what}: SSM throttled the read ({code}); retrying later", code=code)


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
