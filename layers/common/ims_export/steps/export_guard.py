"""At most one IMS export per request, whatever is delivered or retried twice.

EventBridge delivers at least once, SMN may deliver a message twice, and a start step whose answer
was lost is retried: each would POST the export again. The export call therefore waits for two claims
in the stack's idempotency table (partition key ``id``, TTL attribute ``expiration``):

- on the delivery (``delivery``: an SMN message id, EventBridge event id or CTS trace id, with the
  image, bucket, format and quick flag it asks for), when the trigger has one: a redelivery is a
  duplicate whatever its outcome was and whatever object name the pattern renders (``{time}``, say);
  the same id on a trigger for another image is not a redelivery. These records are never released;
  they expire (EXPORT_IDEMPOTENCY_SECONDS).
- on the export (``export_key``): image, destination (``bucket_url``), format and quick flag. A
  trigger for an identical export is a duplicate only while that export runs or after it succeeded
  (``original_status`` asks IMS); after it failed the record is replaced and the export started
  again. The outcome step also drops it (``release_request``) when an export ends in failure, if
  the record still holds that job.

The start step decides, the state machine writes: this module builds the DynamoDB requests (attribute
maps for the state machine's optimized ``dynamodb:putItem/getItem/updateItem/deleteItem`` tasks) and
decides what a claim's answer means; the function holds no DynamoDB client. Records keep the job
descriptor (ids, names, times; never a token) and the execution that started it, so a retry of the
step in its own execution polls the job it started, and a duplicate trigger (another execution) ends.

- A claim is in progress until the job is recorded on it, for ``IN_PROGRESS_SECONDS`` at most (the
  start task's TimeoutSeconds): a start step that died mid-POST blocks others that long; meanwhile a
  repeat waits in the state machine (``WaitingForClaim``) and claims again.
- A start that fails (refused, error) has its claims deleted by the outcome step: a refused export
  may be tried again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ims_export.domain.export_request import ExportRequest
from ims_export.errors import IdempotencyAlreadyInProgressError, IdempotencyStoreError
from ims_export.settings import Settings
from ims_export.steps.claim_records import (
    COMPLETED,
    IN_PROGRESS,
    StoredClaim,
    claiming_record_id,
    epoch_seconds,
    export_key_of_job,
    export_record_id,
    number_attribute,
    read_claim,
    string_attribute,
)
from ims_export.steps.states import (
    Claiming,
    Duplicate,
    DynamoDBRequest,
    Exporting,
    JobState,
    PendingExport,
    Recording,
    WaitingForClaim,
)

# A claim whose export call died half-way frees its key after this long (the start task's TimeoutSeconds).
IN_PROGRESS_SECONDS = 120
# Waits for another execution's claim: 5 s doubling, never past the claim's expiry; a bound for safety.
FIRST_CLAIM_WAIT_SECONDS = 5
MAX_CLAIM_WAITS = 12


class OriginalStatus(StrEnum):
    """What became of the export a duplicate trigger found (as IMS tells it)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


# Asks IMS about the job of a found record.
StatusOf = Callable[[Mapping[str, Any]], OriginalStatus]


def _ours(execution: str | None) -> tuple[str, dict[str, Any]]:
    """A condition that the record was claimed by ``execution`` (no execution: claimed without one)."""
    if execution is None:
        return "attribute_not_exists(started_by)", {}
    return "started_by = :execution", {":execution": string_attribute(execution)}


@dataclass(frozen=True)
class PostExport:
    """Every claim is held: the start step POSTs the export now."""

    pending: PendingExport


GuardStep = Claiming | WaitingForClaim | Recording | Exporting | Duplicate | PostExport


def export_claims(settings: Settings) -> ExportClaims | None:
    """The claims of the stack's idempotency table (none configured: every trigger exports)."""
    if not settings.idempotency_table:
        return None
    return ExportClaims(settings.idempotency_table, settings.export_idempotency_seconds)


@dataclass(frozen=True)
class ExportClaims:
    """The duplicate claims of exports in one table: requests to run and what their answers mean."""

    table: str
    expires_after_seconds: int
    in_progress_seconds: int = IN_PROGRESS_SECONDS

    # --- the requests ---------------------------------------------------------------------------

    def claim(self, pending: PendingExport, *, execution: str | None, now: datetime) -> Claiming:
        """The conditional putItem of the claim in flight: free, expired, or holding the failed job."""
        item: dict[str, Any] = {
            "id": string_attribute(claiming_record_id(pending)),
            "expiration": number_attribute(epoch_seconds(now) + self.in_progress_seconds),
            "claim_state": string_attribute(IN_PROGRESS),
        }
        if execution is not None:
            item["started_by"] = string_attribute(execution)
        condition = "attribute_not_exists(id) OR expiration < :now"
        values: dict[str, Any] = {":now": number_attribute(epoch_seconds(now))}
        if pending.claiming == "export" and pending.failed_job_id is not None:
            condition += " OR job_id = :failed_job"
            values[":failed_job"] = string_attribute(pending.failed_job_id)
        request = {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        return Claiming(pending=pending, claim=request)

    def _record(
        self,
        record: str,
        job: Mapping[str, Any],
        *,
        execution: str | None,
        started_by: str | None,
        now: datetime,
    ) -> DynamoDBRequest:
        condition, values = _ours(execution)
        values.update(
            {
                ":completed": string_attribute(COMPLETED),
                ":job": string_attribute(json.dumps(dict(job), sort_keys=True)),
                ":job_id": string_attribute(str(job.get("job_id"))),
                ":expires": number_attribute(epoch_seconds(now) + self.expires_after_seconds),
            }
        )
        update = "SET claim_state = :completed, job = :job, job_id = :job_id, expiration = :expires"
        if started_by is not None:
            update += ", started_by = :started_by"
            values[":started_by"] = string_attribute(started_by)
        else:
            update += " REMOVE started_by"
        return {
            "TableName": self.table,
            "Key": {"id": string_attribute(record)},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }

    def recorded(
        self, pending: PendingExport, job: JobState, *, execution: str | None, now: datetime
    ) -> Recording:
        """After the POST: the job on every claim this execution holds, then poll it."""
        stored = job.model_dump(mode="json")
        records = [
            self._record(record, stored, execution=execution, started_by=execution, now=now)
            for record in pending.held
        ]
        return Recording(records=records, then=Exporting(job=job))

    def release_request(self, job: Mapping[str, Any]) -> DynamoDBRequest:
        """Drop the export record of a failed ``job``, if it still holds that job."""
        return {
            "TableName": self.table,
            "Key": {"id": string_attribute(export_record_id(export_key_of_job(job)))},
            "ConditionExpression": "job_id = :job_id",
            "ExpressionAttributeValues": {":job_id": string_attribute(str(job.get("job_id")))},
        }

    def abandon_requests(self, pending: PendingExport, *, execution: str | None) -> list[DynamoDBRequest]:
        """Drop the claims a start that failed holds (or may hold: the one in flight), while in progress."""
        condition, values = _ours(execution)
        values[":in_progress"] = string_attribute(IN_PROGRESS)
        records = dict.fromkeys([*pending.held, claiming_record_id(pending)])
        return [
            {
                "TableName": self.table,
                "Key": {"id": string_attribute(record)},
                "ConditionExpression": f"{condition} AND claim_state = :in_progress",
                "ExpressionAttributeValues": values,
            }
            for record in records
        ]

    # --- the decisions --------------------------------------------------------------------------

    def proceed(
        self, claiming: Claiming, *, execution: str | None, now: datetime, status_of: StatusOf
    ) -> GuardStep:
        """What the answer to ``claiming`` means: claim the next record, POST, wait, replay or end."""
        pending = claiming.pending
        if claiming.found is None and claiming.claimed is None:  # neither answer: claim (again)
            return self.claim(pending, execution=execution, now=now)
        if claiming.found is None:  # the putItem succeeded (claimed)
            return self._held(pending, execution=execution, now=now)
        stored = read_claim(claiming.found)
        if stored is None:  # gone since the putItem (expired, released): claim again
            return self.claim(self._counted(pending), execution=execution, now=now)
        return self._found(pending, stored, execution=execution, now=now, status_of=status_of)

    def _found(
        self,
        pending: PendingExport,
        stored: StoredClaim,
        *,
        execution: str | None,
        now: datetime,
        status_of: StatusOf,
    ) -> GuardStep:
        """Someone holds the claim: this execution (a retry), another one starting or done with it."""
        if execution is not None and stored.execution == execution:
            if stored.in_progress:  # our own claim (a retried putItem): it is held
                return self._held(pending, execution=execution, now=now)
            return Exporting(job=self._job(stored))  # a retried step of this execution: poll its job
        if stored.in_progress:
            counted = self._counted(pending)
            wait = min(
                max(stored.expires_at - epoch_seconds(now) + 1, 1),
                FIRST_CLAIM_WAIT_SECONDS * 2**pending.claim_waits,
            )
            return WaitingForClaim(pending=counted, wait_seconds=wait)
        job = self._job(stored)
        status = status_of(job.model_dump(mode="json"))
        if pending.claiming == "export" and status is OriginalStatus.FAILED:
            # The identical export failed: this trigger exports again, replacing its record.
            retry = pending.model_copy(update={"failed_job_id": job.job_id})
            return self.claim(retry, execution=execution, now=now)
        duplicate = Duplicate(job=job, original_execution=stored.execution, original_status=status.value)
        if not pending.held:
            return duplicate
        # The delivery claimed on the way remembers what it turned out to be: the found export.
        records = [
            self._record(
                record, job.model_dump(mode="json"), execution=execution, started_by=stored.execution, now=now
            )
            for record in pending.held
        ]
        return Recording(records=records, then=duplicate)

    def _held(self, pending: PendingExport, *, execution: str | None, now: datetime) -> GuardStep:
        held = pending.model_copy(
            update={
                "held": [*pending.held, claiming_record_id(pending)],
                "claim_waits": 0,
                "failed_job_id": None,
            }
        )
        if pending.claiming == "delivery":
            return self.claim(held.model_copy(update={"claiming": "export"}), execution=execution, now=now)
        return PostExport(held)

    @staticmethod
    def _counted(pending: PendingExport) -> PendingExport:
        if pending.claim_waits >= MAX_CLAIM_WAITS:
            raise IdempotencyAlreadyInProgressError(
                "another execution still holds the claim of this export; try again in a few minutes"
            )
        return pending.model_copy(update={"claim_waits": pending.claim_waits + 1})

    @staticmethod
    def _job(stored: StoredClaim) -> JobState:
        try:
            return JobState.model_validate(stored.job)
        except ValueError:
            raise IdempotencyStoreError("a duplicate record holds no readable job") from None


def first_pending(
    request: ExportRequest,
    *,
    image_name: str,
    image_size_bytes: int | None,
    deadline: datetime,
    delivery_id: str | None,
) -> PendingExport:
    """A checked export before its claims: the delivery is claimed first, if the trigger has one."""
    return PendingExport(
        request=request,
        image_name=image_name,
        image_size_bytes=image_size_bytes,
        deadline=deadline,
        delivery_id=delivery_id,
        claiming="delivery" if delivery_id is not None else "export",
    )
