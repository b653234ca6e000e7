"""The IAM benchmark's stand-ins (``benchmarks/iam_calls.py``): a virtual clock, an IAM that counts the
tokens it issues (24 h each), and in-memory SSM and refresh lock with the semantics of Powertools'
SSMProvider and of ``IdempotencyRefreshLock``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from pydantic import SecretStr

from ims_export.auth.parameter_store import PARAMETER_NOT_FOUND
from ims_export.auth.refresh_lock import DEFAULT_RECORD_SECONDS, LockOutcome, LockResult, RefreshMetadata
from ims_export.domain.credentials import Credentials
from ims_export.domain.tokens import IssuedToken

TOKEN_LIFETIME = timedelta(hours=24)
EPOCH = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass
class VirtualClock:
    now: datetime = EPOCH

    def __call__(self) -> datetime:
        return self.now


@dataclass
class CountingIam:
    """Issues a 24 h token per call and counts the calls (``IamClient.issue_token``'s signature)."""

    clock: VirtualClock
    calls: int = 0

    def issue_token(
        self, credentials: Credentials, *, project_name: str | None = None, project_id: str | None = None
    ) -> IssuedToken:
        self.calls += 1
        return IssuedToken(
            value=SecretStr(f"token-{self.calls}"),
            expires_at=self.clock() + TOKEN_LIFETIME,
            project_id=project_id or "bench-project",
        )


class _ParameterNotFound(Exception):
    """What botocore raises for a missing parameter, as far as ``parameter_error_code`` looks."""

    response = {"Error": {"Code": PARAMETER_NOT_FOUND}}


@dataclass
class InMemorySsm:
    """``SSMProvider.get``/``set`` on a dict; counts requests. ``shared=False`` stores nothing."""

    shared: bool = True
    values: dict[str, str] = field(default_factory=dict)
    gets: int = 0
    sets: int = 0

    def get(self, name: str, **_options: Any) -> str:
        self.gets += 1
        if name not in self.values:
            raise GetParameterError(f"parameter {name!r} not found") from _ParameterNotFound()
        return self.values[name]

    def set(self, name: str, value: str, **_options: Any) -> None:
        self.sets += 1
        if self.shared:
            self.values[name] = value


@dataclass
class InMemoryRefreshLock:
    """``IdempotencyRefreshLock`` without DynamoDB: the first caller per generation refreshes."""

    clock: VirtualClock
    done_at: dict[str, datetime] = field(default_factory=dict)
    runs: int = 0

    def run(self, generation: str, refresh: Callable[[], RefreshMetadata]) -> LockResult:
        finished = self.done_at.get(generation)
        if finished is not None and (self.clock() - finished).total_seconds() < DEFAULT_RECORD_SECONDS:
            return LockResult(LockOutcome.DONE_ELSEWHERE)
        self.runs += 1
        metadata = refresh()
        self.done_at[generation] = self.clock()
        return LockResult(LockOutcome.RAN, metadata)
