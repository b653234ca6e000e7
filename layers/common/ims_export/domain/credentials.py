"""The IAM user's credentials (password authentication), as read from their SecureString."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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
