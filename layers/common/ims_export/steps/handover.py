"""Hand-over records: how an execution passes its running job to its continuation.

Before continuing as new (history limit), the state machine has the hand-over function store the job
under a random ticket, bound to the name of the execution that is to continue it. The continuation's
start step claims the record with one conditional update: only that execution, only before it expires;
a retry of that step (its answer lost) gets the same job again. A ``resume`` input whose ticket has no
such record is refused, so no trigger can make the workflow poll -- or publish an outcome for -- a job
it did not start; and the names and ids the continuation publishes come from the record, never from
its input.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any, Protocol

from ims_export.errors import IdempotencyStoreError
from ims_export.settings import Settings

KEY_PREFIX = "ims-export-handover"
# A continuation starts seconds after the hand-over; the record outlives that by far.
HANDOVER_SECONDS = 24 * 3600
TICKET_PATTERN = r"^[0-9a-f]{32}$"


def new_ticket() -> str:
    return secrets.token_hex(16)


class HandOverStore(Protocol):
    def put(self, ticket: str, job: Mapping[str, Any], *, execution_name: str, expires_at: int) -> None:
        """Store ``job`` for the execution named ``execution_name`` until ``expires_at`` (epoch s)."""
        ...

    def claim(self, ticket: str, *, execution_name: str, now: int) -> Mapping[str, Any] | None:
        """The job handed over under ``ticket`` to ``execution_name``; None if there is none. Claiming
        again from the same execution (a retried step) gives the same job."""
        ...


class InMemoryHandOverStore:
    """For tests and tools: the same semantics as the DynamoDB store, in one process."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, int, dict[str, Any]]] = {}

    def put(self, ticket: str, job: Mapping[str, Any], *, execution_name: str, expires_at: int) -> None:
        self.records[ticket] = (execution_name, expires_at, dict(job))

    def claim(self, ticket: str, *, execution_name: str, now: int) -> Mapping[str, Any] | None:
        found = self.records.get(ticket)
        if found is None or found[0] != execution_name or found[1] <= now:
            return None
        return found[2]


class DynamoDBHandOverStore:
    """Records in the stack's idempotency table (partition key ``id``, TTL attribute ``expiration``).

    ``client`` is a DynamoDB client built by Powertools (the runtime's boto3; this module imports none).
    """

    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    def put(self, ticket: str, job: Mapping[str, Any], *, execution_name: str, expires_at: int) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": f"{KEY_PREFIX}#{ticket}"},
                    "job": {"S": json.dumps(dict(job))},
                    "execution_name": {"S": execution_name},
                    "expiration": {"N": str(expires_at)},
                },
                ConditionExpression="attribute_not_exists(id)",
            )
        except self._client.exceptions.ClientError as error:
            raise IdempotencyStoreError(
                f"the hand-over record could not be written ({_code(error)})"
            ) from None

    def claim(self, ticket: str, *, execution_name: str, now: int) -> Mapping[str, Any] | None:
        try:
            # Kept, not deleted: a retry of the claiming step in the same execution must find it again.
            answer = self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": f"{KEY_PREFIX}#{ticket}"}},
                ConditionExpression="attribute_exists(id) AND execution_name = :name AND expiration > :now",
                UpdateExpression="SET claimed_at = if_not_exists(claimed_at, :now)",
                ExpressionAttributeValues={":name": {"S": execution_name}, ":now": {"N": str(now)}},
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        except self._client.exceptions.ClientError as error:
            raise IdempotencyStoreError(
                f"the hand-over record could not be claimed ({_code(error)})"
            ) from None
        stored = json.loads(answer["Attributes"]["job"]["S"])
        return stored if isinstance(stored, dict) else None


def _code(error: Any) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code")) if isinstance(response, dict) else type(error).__name__


def dynamodb_handover_store(table_name: str) -> DynamoDBHandOverStore:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer  # noqa: PLC0415

    # Powertools builds the client; the start step's export guard builds its own the same way.
    return DynamoDBHandOverStore(table_name, DynamoDBPersistenceLayer(table_name=table_name).client)


class _DynamoDBStoreOnFirstUse:
    """The table's store, built on its first put or claim: it brings boto3 and a DynamoDB client, which
    only a continuation needs (an export's cold start builds none)."""

    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._store: HandOverStore | None = None

    def _built(self) -> HandOverStore:
        if self._store is None:
            self._store = dynamodb_handover_store(self._table)
        return self._store

    def put(self, ticket: str, job: Mapping[str, Any], *, execution_name: str, expires_at: int) -> None:
        self._built().put(ticket, job, execution_name=execution_name, expires_at=expires_at)

    def claim(self, ticket: str, *, execution_name: str, now: int) -> Mapping[str, Any] | None:
        return self._built().claim(ticket, execution_name=execution_name, now=now)


# One store per table for the life of the execution environment: warm invocations reuse its client.
_STORES: dict[str, HandOverStore] = {}


def handover_store_for(settings: Settings) -> HandOverStore | None:
    """The process-wide store of hand-over records (none without an idempotency table)."""
    table = settings.idempotency_table
    if not table:
        return None
    if table not in _STORES:
        _STORES[table] = _DynamoDBStoreOnFirstUse(table)
    return _STORES[table]
