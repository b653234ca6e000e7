"""Fixtures of the reliability tests: the idempotency table in moto, counting fakes, the real handler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ims_export import runtime
from ims_export.auth.cache import RefreshReport
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import ImsExportError
from ims_export.settings import Settings
from ims_export.smn.handler import HANDLERS as SMN_HANDLERS
from ims_export.steps.export_guard import export_claims
from ims_export.steps.outcome import build_outcome
from ims_export.steps.outcome_payloads import CaughtError, EndedState, OutcomeInput
from ims_export.steps.release import release_failed_export
from ims_export.steps.start import start
from ims_export.steps.states import Claiming, Recording, StartInput, StartResult
from localdev.lambda_handlers import load_function_module, load_handler
from localdev.stepfunctions import LocalWorkflow
from tests.workflow.conftest import BUS, DEFINITION, FUNCTIONS, TOPIC
from tests.workflow.fakes import FakeIms, FakeTokens, make_clients, make_image, make_settings

TABLE = "ims-export-idempotency"


class CountingTokens(FakeTokens):
    """FakeTokens that counts every use: any use stands for a call to IAM."""

    def __init__(self) -> None:
        super().__init__()
        self.uses = 0

    def current(self) -> IssuedToken:
        self.uses += 1
        return super().current()

    def refresh_if_needed(self, margin_seconds: float) -> RefreshReport:
        self.uses += 1
        return super().refresh_if_needed(margin_seconds)


def create_idempotency_table(name: str = TABLE) -> None:
    """The table as template.yaml declares it (partition key ``id``)."""
    boto3.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def stored_items(name: str = TABLE) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=name)["Items"]
    return items


def _without_metadata(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}


def start_as_the_state_machine_does(
    start_input: StartInput, clients: runtime.Clients, *, now: Any
) -> StartResult:
    """The start step with its claims run on the (moto) table as ClaimRecord, ReadClaim and RecordJob
    run them; a start that fails has its claims dropped as DescribeOutcome and ReleaseExport do.
    Ends at the first answer that is not a claim: Exporting, Duplicate, WaitingForClaim, ..."""
    dynamodb = boto3.client("dynamodb")
    result = start(start_input, clients, now=now)
    while isinstance(result, Claiming):
        state = result.model_dump(mode="json")
        try:
            state["claimed"] = _without_metadata(dynamodb.put_item(**state["claim"]))
        except dynamodb.exceptions.ConditionalCheckFailedException:
            key = {"id": state["claim"]["Item"]["id"]}
            found = dynamodb.get_item(TableName=state["claim"]["TableName"], Key=key, ConsistentRead=True)
            state["found"] = _without_metadata(found)
        again = start_input.model_copy(update={"state": Claiming.model_validate(state)})
        try:
            result = start(again, clients, now=now)
        except ImsExportError as error:
            _release(state, error, start_input.execution_id, clients, now)
            raise
    if isinstance(result, Recording):
        for record in result.records:
            with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
                dynamodb.update_item(**record)  # RecordJob goes on if it cannot
        return result.then
    return result


def _release(
    state: dict[str, Any], error: Exception, execution: str | None, clients: runtime.Clients, now: Any
) -> None:
    failure = CaughtError(Error=type(error).__name__, Cause=str(error))
    ended = EndedState.model_validate({**state, "failure": failure.model_dump()})
    request = OutcomeInput(state=ended, execution_id=execution)
    described = build_outcome(request, now=now, settings=clients.settings)
    released = release_failed_export(described, ended, export_claims(clients.settings), execution=execution)
    run_release(released.release.deletes if released.release else [])


def run_release(deletes: list[dict[str, Any]]) -> None:
    """What ReleaseExport does with the deletes DescribeOutcome names."""
    dynamodb = boto3.client("dynamodb")
    for delete in deletes:
        with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.delete_item(**delete)  # not held any more: left alone


@pytest.fixture
def start_app() -> Iterator[Any]:
    """The real start function's module; its process-wide SMN handlers are reset around a test
    (they hold verifiers bound to one test's keys)."""
    module = load_function_module(FUNCTIONS["StartExportFunction"])
    SMN_HANDLERS.clear()
    yield module
    SMN_HANDLERS.clear()


@pytest.fixture
def counting_ims() -> FakeIms:
    ims = FakeIms(tokens=CountingTokens())
    ims.add_image(make_image())
    return ims


def guarded_settings(**overrides: Any) -> Settings:
    return make_settings(idempotency_table=TABLE, **overrides)


@pytest.fixture
def dynamodb() -> Iterator[None]:
    with mock_aws():
        create_idempotency_table()
        yield


@pytest.fixture
def guarded_clients(counting_ims: FakeIms) -> Iterator[runtime.Clients]:
    """Clients whose settings name the idempotency table (the handler then guards the export)."""
    bundle = make_clients(counting_ims, guarded_settings())
    with runtime.use_clients(bundle):
        yield bundle


def local_workflow(**options: Any) -> LocalWorkflow:
    """The real definition and handlers, as tests/workflow runs them."""
    substitutions = {
        "EventBusName": BUS,
        "NotificationTopicArn": LocalWorkflow.topic_arn(TOPIC),
        **options.pop("substitutions", {}),
    }
    handlers = {name: load_handler(path) for name, path in FUNCTIONS.items()}
    handlers.update(options.pop("handlers", {}))
    return LocalWorkflow(
        DEFINITION, substitutions, handlers=handlers, event_buses=[BUS], topics=[TOPIC], **options
    )


@pytest.fixture
def guarded_workflow(guarded_clients: runtime.Clients, start_app: Any) -> Iterator[LocalWorkflow]:
    """The state machine on moto, with the idempotency table the start function guards exports with."""
    del guarded_clients, start_app  # active for the duration: the handlers use them
    with local_workflow() as workflow:
        create_idempotency_table()
        yield workflow
