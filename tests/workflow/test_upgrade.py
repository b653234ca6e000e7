"""An execution started before an upgrade keeps its definition: the requests that definition sends to the
start function (a hand-over, an outcome) are still answered as the functions that now own them answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from ims_export import runtime
from ims_export.steps.handover import InMemoryHandOverStore
from localdev.lambda_handlers import FakeLambdaContext, load_function_module, load_handler
from tests.workflow.conftest import FUNCTIONS
from tests.workflow.fakes import BUCKET, IMAGE_ID

ENDED = {
    "outcome": {
        "state": {"input": {"image_id": IMAGE_ID, "bucket_url": f"{BUCKET}:exports/x.qcow2"}},
        "execution_id": "arn:aws:states:eu-central-1:111122223333:execution:ims-export:e-1",
    }
}


def _context(name: str) -> FakeLambdaContext:
    return FakeLambdaContext(name, f"arn:aws:lambda:eu-central-1:111122223333:function:{name}")


@pytest.fixture
def frozen_clock(clients: runtime.Clients) -> Iterator[None]:
    moment = clients.clock()
    with runtime.use_clients(dataclasses.replace(clients, clock=lambda: moment)):
        yield


@pytest.mark.usefixtures("frozen_clock")
def test_an_earlier_definitions_outcome_request_gets_the_outcome_functions_answer() -> None:
    start = load_handler(FUNCTIONS["StartExportFunction"])
    describe = load_handler(FUNCTIONS["DescribeOutcomeFunction"])

    answered = start(ENDED, _context("start"))

    assert answered == describe(ENDED, _context("outcome"))
    assert answered["route"] == "WorkflowFailed"  # an input that never became an export


@pytest.mark.usefixtures("clients")
def test_an_earlier_definitions_hand_over_request_stores_the_job_as_the_hand_over_function_does(
    monkeypatch: pytest.MonkeyPatch, exporting_job: dict[str, Any]
) -> None:
    store = InMemoryHandOverStore()
    start_app = load_function_module(FUNCTIONS["StartExportFunction"])
    monkeypatch.setattr(start_app, "handover_store_for", lambda settings: store)
    start = start_app.lambda_handler

    handed = start({"hand_over": exporting_job}, _context("start"))

    assert set(handed) == {"ticket", "continuation_name"}
    [(execution_name, _, job)] = store.records.values()
    assert execution_name == handed["continuation_name"]
    assert job["job_id"] == exporting_job["job_id"]


@pytest.fixture
def exporting_job() -> dict[str, Any]:
    from tests.workflow.test_steps import exporting

    job: dict[str, Any] = exporting().model_dump(mode="json")["job"]
    return job
