"""The IAM token as the rest of the code sees it, and the interface of anything that supplies one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, SecretStr


class IssuedToken(BaseModel):
    """A project-scoped IAM token. ``value`` is a SecretStr so that it never shows in logs or reprs."""

    model_config = ConfigDict(frozen=True)

    value: SecretStr
    expires_at: datetime
    project_id: str
    ims_endpoint: str | None = None

    def seconds_left(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        return (self.expires_at - now).total_seconds()


class TokenSource(Protocol):
    """What the IMS client needs: a valid token, and a way to say that IMS refused one."""

    def current(self) -> IssuedToken:
        """A token with more than the refresh margin of validity left (refreshing if needed)."""
        ...

    def invalidate(self, token: IssuedToken) -> None:
        """Forget ``token`` (IMS answered 401): the next ``current()`` must return a new one."""
        ...
