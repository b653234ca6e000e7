"""A lock across processes so that concurrent refreshers of one stale token make one IAM call.

Built on Powertools Idempotency with its DynamoDB persistence layer. The idempotency key is the token
parameter's name plus the *generation being replaced*: the stale record's ``expires_at``, or
``"empty"``. Every caller that found the same stale record therefore competes for the same key:

- the first one (``RAN``) runs the refresh, which writes the new token to SSM and returns metadata
  only; that metadata, never the token, is what the idempotency record keeps;
- callers during the refresh get ``BUSY``, callers after it ``DONE_ELSEWHERE``: both read SSM again.

A refresh that raises deletes its record (Powertools does), so the next caller may try again. If the
lock store itself fails, the refresh runs unguarded: one extra IAM call beats a failed export.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.typing import LambdaContext

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

# Powertools Idempotency is imported where a lock is built or run, never at import: it brings boto3, and
# only a refresh needs it.

logger = logging.getLogger(__name__)

EMPTY_GENERATION = "empty"
# The same key in every function of the stack, whatever its name (Powertools prefixes the function name).
KEY_PREFIX = "ims-export-token-refresh"
# A finished refresh is remembered this long; later callers see DONE_ELSEWHERE and read SSM instead.
DEFAULT_RECORD_SECONDS = 300
# Without a Lambda context, a refresh that died half-way (process killed) frees its key after this long.
DEFAULT_IN_PROGRESS_SECONDS = 60

RefreshMetadata = Mapping[str, Any]


class LockOutcome(Enum):
    RAN = "ran"
    BUSY = "busy"
    DONE_ELSEWHERE = "done_elsewhere"


@dataclass(frozen=True)
class LockResult:
    outcome: LockOutcome
    metadata: RefreshMetadata | None = None


class RefreshLock(Protocol):
    def run(self, generation: str, refresh: Callable[[], RefreshMetadata]) -> LockResult:
        """Run ``refresh`` unless another caller is replacing (or has replaced) ``generation``."""
        ...


def backoff_delays(
    total_seconds: float, *, first: float = 0.2, factor: float = 2.0, cap: float = 2.0
) -> Iterator[float]:
    """Growing waits whose sum stays within ``total_seconds`` (counted, not timed: no clock needed)."""
    spent = 0.0
    delay = first
    while spent + delay <= total_seconds + 1e-9:
        yield delay
        spent += delay
        delay = min(delay * factor, cap)


class FixedDeadline(LambdaContext):
    """Stands in for the Lambda context: Powertools reads the in-progress expiry from it."""

    def __init__(self, seconds: int) -> None:
        self._millis = seconds * 1000

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]  # a staticmethod upstream
        return self._millis


class IdempotencyRefreshLock:
    """``RefreshLock`` on a Powertools persistence layer (DynamoDB in production)."""

    def __init__(
        self,
        persistence_store: BasePersistenceLayer,
        *,
        scope: str,
        record_seconds: int = DEFAULT_RECORD_SECONDS,
        in_progress_seconds: int = DEFAULT_IN_PROGRESS_SECONDS,
    ) -> None:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig  # noqa: PLC0415

        self._persistence_store = persistence_store
        self._scope = scope
        self._config = IdempotencyConfig(
            expires_after_seconds=record_seconds, lambda_context=FixedDeadline(in_progress_seconds)
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Let a refresh cut short by a Lambda timeout release its key when the invocation ends."""
        self._config.register_lambda_context(context)

    def run(self, generation: str, refresh: Callable[[], RefreshMetadata]) -> LockResult:
        from aws_lambda_powertools.utilities.idempotency import idempotent_function  # noqa: PLC0415
        from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
        )

        attempted: list[bool] = []
        ran: list[RefreshMetadata] = []

        def claimed(*, claim: Mapping[str, str]) -> dict[str, Any]:
            del claim  # only the key matters
            attempted.append(True)
            metadata = refresh()
            ran.append(metadata)
            return dict(metadata)

        guarded = idempotent_function(
            claimed,
            data_keyword_argument="claim",
            persistence_store=self._persistence_store,
            config=self._config,
            key_prefix=KEY_PREFIX,
        )
        try:
            stored = guarded(claim={"parameter": self._scope, "generation": generation})
        except IdempotencyAlreadyInProgressError:
            return LockResult(LockOutcome.BUSY)
        except IdempotencyPersistenceLayerError as error:
            if ran:  # the refresh succeeded; only saving its result failed
                return LockResult(LockOutcome.RAN, ran[0])
            if attempted:  # the refresh failed and so did releasing the key: do not call IAM twice
                raise
            logger.warning("token refresh lock unavailable, refreshing without it: %s", type(error).__name__)
            return LockResult(LockOutcome.RAN, refresh())
        if ran:
            return LockResult(LockOutcome.RAN, ran[0])
        return LockResult(LockOutcome.DONE_ELSEWHERE, stored if isinstance(stored, Mapping) else None)


class LazyRefreshLock:
    """A lock built on first use.

    Most invocations find a valid token and never refresh; building the DynamoDB persistence layer
    creates a boto3 client, which costs tens of milliseconds of every cold start. Refreshes are
    serialized in the process by the token cache, so building here needs no lock of its own.
    """

    def __init__(self, build: Callable[[], RefreshLock]) -> None:
        self._build = build
        self._lock: RefreshLock | None = None

    def run(self, generation: str, refresh: Callable[[], RefreshMetadata]) -> LockResult:
        if self._lock is None:
            self._lock = self._build()
        return self._lock.run(generation, refresh)


def dynamodb_refresh_lock(table_name: str, *, scope: str) -> IdempotencyRefreshLock:
    """The production lock: the idempotency table (partition key ``id``) of the stack."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer  # noqa: PLC0415

    return IdempotencyRefreshLock(DynamoDBPersistenceLayer(table_name=table_name), scope=scope)
