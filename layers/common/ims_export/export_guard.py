"""At most one IMS export per request, whatever is delivered or retried twice.

EventBridge delivers at least once, SMN may deliver a message twice, and a start step whose answer
was lost is retried: each would POST the export again. The export call therefore runs under
Powertools Idempotency (DynamoDB), keyed on what makes two requests the same export: image,
destination (``bucket_url``), format and quick flag. The record keeps the job descriptor (ids, names,
times; never a token) and the execution that started it, so the caller can tell a retry of its own
step (same execution: poll the same job) from a duplicate trigger (another execution).

- An export that raises deletes its record (Powertools does): a refused export may be tried again.
- A start step killed by a Lambda timeout leaves an INPROGRESS record until the timeout's end (the
  Lambda context is registered); meanwhile a repeat gets IdempotencyAlreadyInProgressError, which
  the state machine retries. Afterwards IMS itself answers IMG.0148 while that export still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export.errors import IdempotencyStoreError
from ims_export.export_request import ExportRequest
from ims_export.refresh_lock import FixedDeadline

# Distinct from the token refresh lock's prefix: both live in the stack's idempotency table.
KEY_PREFIX = "ims-export-start"
# Without a Lambda context, an export call that died half-way frees its key after this long
# (the start task's TimeoutSeconds).
DEFAULT_IN_PROGRESS_SECONDS = 120

StartExport = Callable[[], Mapping[str, Any]]


def export_key(request: ExportRequest) -> dict[str, Any]:
    """What makes two requests the same export (hashed by Powertools into the record's key)."""
    return {
        "image_id": request.image_id,
        "bucket_url": request.bucket_url,
        "file_format": request.file_format.value if request.file_format else None,
        "is_quick_export": request.is_quick_export,
    }


@dataclass(frozen=True)
class GuardedExport:
    """The job record of the export, and whether this call started it or found it."""

    record: Mapping[str, Any]
    execution: str | None
    replayed: bool


class ExportGuard(Protocol):
    def run(self, request: ExportRequest, *, execution: str | None, start: StartExport) -> GuardedExport:
        """Call ``start`` unless ``request`` was started already; return the (first) job record."""
        ...

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Let a Lambda timeout free the in-progress record (nothing to do without a store)."""
        ...


class UnguardedExport:
    """No idempotency table configured: every call starts an export."""

    def register_lambda_context(self, context: LambdaContext) -> None:
        del context

    def run(self, request: ExportRequest, *, execution: str | None, start: StartExport) -> GuardedExport:
        del request
        return GuardedExport(record=start(), execution=execution, replayed=False)


class IdempotentExportGuard:
    """``ExportGuard`` on a Powertools persistence layer (DynamoDB in production)."""

    def __init__(
        self,
        persistence_store: BasePersistenceLayer,
        *,
        expires_after_seconds: int,
        in_progress_seconds: int = DEFAULT_IN_PROGRESS_SECONDS,
    ) -> None:
        self._persistence_store = persistence_store
        self._config = IdempotencyConfig(
            expires_after_seconds=expires_after_seconds,
            lambda_context=FixedDeadline(in_progress_seconds),
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Let an export call cut short by a Lambda timeout free its key when the invocation ends."""
        self._config.register_lambda_context(context)

    def run(self, request: ExportRequest, *, execution: str | None, start: StartExport) -> GuardedExport:
        started: list[Mapping[str, Any]] = []

        def export_once(*, claim: Mapping[str, Any]) -> dict[str, Any]:
            del claim  # only its hash, the key, matters
            record = start()
            started.append(record)
            return {"job": dict(record), "execution": execution}

        guarded = idempotent_function(
            export_once,
            data_keyword_argument="claim",
            persistence_store=self._persistence_store,
            config=self._config,
            key_prefix=KEY_PREFIX,
        )
        try:
            stored = guarded(claim=export_key(request))
        except IdempotencyPersistenceLayerError:
            if started:  # the export was started; only remembering it failed
                return GuardedExport(record=started[0], execution=execution, replayed=False)
            raise IdempotencyStoreError("the idempotency table could not be read or written") from None
        if started:
            return GuardedExport(record=started[0], execution=execution, replayed=False)
        return GuardedExport(record=stored["job"], execution=stored.get("execution"), replayed=True)


def dynamodb_export_guard(table_name: str, *, expires_after_seconds: int) -> IdempotentExportGuard:
    """The production guard: the stack's idempotency table (partition key ``id``)."""
    return IdempotentExportGuard(
        DynamoDBPersistenceLayer(table_name=table_name), expires_after_seconds=expires_after_seconds
    )
