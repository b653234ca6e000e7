"""At most one IMS export per request, whatever is delivered or retried twice.

EventBridge delivers at least once, SMN may deliver a message twice, and a start step whose answer
was lost is retried: each would POST the export again. The export call therefore runs under
Powertools Idempotency (DynamoDB), keyed twice:

- on the export (``export_key``): image, destination (``bucket_url``), format and quick flag. A
  trigger for an identical export is a duplicate only while that export runs or after it succeeded
  (``original_status`` asks IMS); after it failed the record is dropped and the export started
  again. The state machine also drops it (``release``) when an export ends in failure.
- on the delivery (``delivery``: an SMN message id, EventBridge event id or CTS trace id), when the
  trigger has one: a redelivery is a duplicate whatever its outcome was and whatever object name
  the pattern renders (``{time}``, say). These records are never released; they expire.

Records keep the job descriptor (ids, names, times; never a token) and the execution that started
it, so the caller can tell a retry of its own step (same execution: poll the same job) from a
duplicate trigger (another execution).

- An export that raises deletes its records (Powertools does): a refused export may be tried again.
- A start step killed by a Lambda timeout leaves an INPROGRESS record until the timeout's end (the
  Lambda context is registered); meanwhile a repeat gets IdempotencyAlreadyInProgressError, which
  the state machine retries. Afterwards IMS itself answers IMG.0148 while that export still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemNotFoundError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export.auth.refresh_lock import FixedDeadline
from ims_export.domain.export_request import ExportRequest
from ims_export.errors import IdempotencyStoreError

# Distinct from the token refresh lock's prefix: all live in the stack's idempotency table.
KEY_PREFIX = "ims-export-start"
DELIVERY_KEY_PREFIX = "ims-export-delivery"
# Without a Lambda context, an export call that died half-way frees its key after this long
# (the start task's TimeoutSeconds).
DEFAULT_IN_PROGRESS_SECONDS = 120

StartExport = Callable[[], Mapping[str, Any]]


class OriginalStatus(StrEnum):
    """What became of the export a duplicate trigger found (as IMS tells it)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


# Asks IMS about the job of a found record.
StatusOf = Callable[[Mapping[str, Any]], OriginalStatus]


def export_key(request: ExportRequest) -> dict[str, Any]:
    """What makes two requests the same export (hashed by Powertools into the record's key)."""
    return {
        "image_id": request.image_id,
        "bucket_url": request.bucket_url,
        "file_format": request.file_format.value if request.file_format else None,
        "is_quick_export": request.is_quick_export,
    }


def export_key_of_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """``export_key`` of the request a job record was started for."""
    return {name: job.get(name) for name in ("image_id", "bucket_url", "file_format", "is_quick_export")}


@dataclass(frozen=True)
class GuardedExport:
    """The job record of the export, and whether this call started it or found it."""

    record: Mapping[str, Any]
    execution: str | None
    replayed: bool
    original_status: OriginalStatus | None = None


class ExportGuard(Protocol):
    def run(
        self,
        request: ExportRequest,
        *,
        execution: str | None,
        start: StartExport,
        delivery: str | None = None,
        status_of: StatusOf | None = None,
    ) -> GuardedExport:
        """Call ``start`` unless ``request`` (or ``delivery``) was started already; return the job record."""
        ...

    def release(self, job: Mapping[str, Any]) -> bool:
        """Forget the export of ``job`` (it failed): a new trigger exports again. True if dropped."""
        ...

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Let a Lambda timeout free the in-progress record (nothing to do without a store)."""
        ...


class UnguardedExport:
    """No idempotency table configured: every call starts an export."""

    def register_lambda_context(self, context: LambdaContext) -> None:
        del context

    def run(
        self,
        request: ExportRequest,
        *,
        execution: str | None,
        start: StartExport,
        delivery: str | None = None,
        status_of: StatusOf | None = None,
    ) -> GuardedExport:
        del request, delivery, status_of
        return GuardedExport(record=start(), execution=execution, replayed=False)

    def release(self, job: Mapping[str, Any]) -> bool:
        del job
        return False


class _Claims:
    """One kind of record (one key prefix) on its own persistence layer: Powertools binds the
    prefix to the layer at each call, so nested claims of two kinds need two layers."""

    def __init__(self, store: BasePersistenceLayer, prefix: str, config: IdempotencyConfig) -> None:
        self.store = store
        self.prefix = prefix
        self.config = config

    def once(
        self, key: Mapping[str, Any], execution: str | None, produce: Callable[[], GuardedExport]
    ) -> GuardedExport:
        produced: list[GuardedExport] = []

        def claimed(*, claim: Mapping[str, Any]) -> dict[str, Any]:
            del claim  # only its hash, the key, matters
            result = produce()
            produced.append(result)
            return {"job": dict(result.record), "execution": result.execution}

        guarded = idempotent_function(
            claimed,
            data_keyword_argument="claim",
            persistence_store=self.store,
            config=self.config,
            key_prefix=self.prefix,
        )
        try:
            stored = guarded(claim=dict(key))
        except IdempotencyPersistenceLayerError:
            if produced:  # the export was started; only remembering it failed
                return produced[0]
            raise IdempotencyStoreError("the idempotency table could not be read or written") from None
        if produced:
            return produced[0]
        return GuardedExport(record=stored["job"], execution=stored.get("execution"), replayed=True)

    def drop(self, key: Mapping[str, Any], job_id: Any) -> bool:
        """Delete the record of ``key`` if it still holds the job ``job_id``."""
        self.store.configure(self.config, None, self.prefix)
        try:
            record = self.store.get_record(dict(key))
        except IdempotencyItemNotFoundError:
            return False
        except IdempotencyPersistenceLayerError:
            raise IdempotencyStoreError("the idempotency table could not be read") from None
        stored = record.response_json_as_dict() if record is not None else None
        if not isinstance(stored, Mapping) or (stored.get("job") or {}).get("job_id") != job_id:
            return False  # an in-progress record, or another export's: not ours to drop
        try:
            self.store.delete_record(dict(key), exception=RuntimeError("released"))
        except IdempotencyPersistenceLayerError:
            raise IdempotencyStoreError("the idempotency table could not be written") from None
        return True


class IdempotentExportGuard:
    """``ExportGuard`` on Powertools persistence layers (DynamoDB in production)."""

    def __init__(
        self,
        persistence_store: BasePersistenceLayer,
        *,
        expires_after_seconds: int,
        in_progress_seconds: int = DEFAULT_IN_PROGRESS_SECONDS,
        delivery_store: BasePersistenceLayer | None = None,
    ) -> None:
        self._config = IdempotencyConfig(
            expires_after_seconds=expires_after_seconds,
            lambda_context=FixedDeadline(in_progress_seconds),
        )
        self._exports = _Claims(persistence_store, KEY_PREFIX, self._config)
        self._deliveries = (
            _Claims(delivery_store, DELIVERY_KEY_PREFIX, self._config) if delivery_store is not None else None
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Let an export call cut short by a Lambda timeout free its key when the invocation ends."""
        self._config.register_lambda_context(context)

    def run(
        self,
        request: ExportRequest,
        *,
        execution: str | None,
        start: StartExport,
        delivery: str | None = None,
        status_of: StatusOf | None = None,
    ) -> GuardedExport:
        key = export_key(request)

        def start_export() -> GuardedExport:
            return GuardedExport(record=start(), execution=execution, replayed=False)

        def export_unless_running_or_done() -> GuardedExport:
            found = self._exports.once(key, execution, start_export)
            if not _is_other_execution(found, execution) or status_of is None:
                return found
            status = status_of(found.record)
            if status is not OriginalStatus.FAILED:
                return replace(found, original_status=status)
            # The identical export failed: this trigger exports again.
            self._exports.drop(key, found.record.get("job_id"))
            return self._exports.once(key, execution, start_export)

        if delivery is None or self._deliveries is None:
            return export_unless_running_or_done()
        delivered = self._deliveries.once({"delivery": delivery}, execution, export_unless_running_or_done)
        if _is_other_execution(delivered, execution) and delivered.original_status is None and status_of:
            return replace(delivered, original_status=status_of(delivered.record))
        return delivered

    def release(self, job: Mapping[str, Any]) -> bool:
        return self._exports.drop(export_key_of_job(job), job.get("job_id"))


def _is_other_execution(found: GuardedExport, execution: str | None) -> bool:
    return found.replayed and (execution is None or found.execution != execution)


def dynamodb_export_guard(table_name: str, *, expires_after_seconds: int) -> IdempotentExportGuard:
    """The production guard: the stack's idempotency table (partition key ``id``), one DynamoDB client."""
    exports = DynamoDBPersistenceLayer(table_name=table_name)
    deliveries = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=exports.client)
    return IdempotentExportGuard(
        exports, expires_after_seconds=expires_after_seconds, delivery_store=deliveries
    )
