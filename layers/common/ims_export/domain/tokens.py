"""The IAM token as the rest of the code sees it, and the interface of anything that supplies one.

Validity is judged on IAM's own clock: the lifetime IAM states (``expires_at - issued_at``), counted
from the moment the token arrived here (``received_at``, local clock). A local clock that disagrees
with IAM's therefore neither shortens nor lengthens a token. The refresh margin is capped at a share
of that lifetime, so that a token living shorter than the configured margin is still used for most
of its life instead of being replaced on every use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, SecretStr

# At most this share of a token's lifetime is spent as the refresh margin.
MAX_MARGIN_SHARE = 0.25


class IssuedToken(BaseModel):
    """A project-scoped IAM token. ``value`` is a SecretStr so that it never shows in logs or reprs."""

    model_config = ConfigDict(frozen=True)

    value: SecretStr
    expires_at: datetime
    project_id: str
    ims_endpoint: str | None = None
    issued_at: datetime | None = None  # as IAM states it (IAM's clock)
    received_at: datetime | None = None  # when it arrived here (local clock)

    def lifetime_seconds(self) -> float | None:
        """How long IAM made the token valid; None when that cannot be told."""
        start = self.issued_at or self.received_at
        if start is None:
            return None
        return (self.expires_at - start).total_seconds()

    def seconds_left(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        if self.issued_at is not None and self.received_at is not None:
            lifetime = (self.expires_at - self.issued_at).total_seconds()
            return lifetime - (now - self.received_at).total_seconds()
        return (self.expires_at - now).total_seconds()

    def refresh_margin(self, configured_seconds: float) -> float:
        """The configured margin, capped at ``MAX_MARGIN_SHARE`` of the token's lifetime."""
        lifetime = self.lifetime_seconds()
        if lifetime is None or lifetime <= 0:
            return configured_seconds
        return min(configured_seconds, MAX_MARGIN_SHARE * lifetime)

    def needs_refresh(self, configured_margin_seconds: float, now: datetime | None = None) -> bool:
        return self.seconds_left(now) <= self.refresh_margin(configured_margin_seconds)


class TokenSource(Protocol):
    """What the IMS client needs: a valid token, and a way to say that IMS refused one."""

    def current(self) -> IssuedToken:
        """A token with more than the refresh margin of validity left (refreshing if needed)."""
        ...

    def invalidate(self, token: IssuedToken) -> None:
        """Forget ``token`` (IMS answered 401): the next ``current()`` must return a new one."""
        ...
