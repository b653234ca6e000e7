"""Continue-as-new through hand-over records: a forged resume input publishes nothing it names, and a
continuation's retried start gets its own job again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ims_export import runtime
from localdev.stepfunctions import ExecutionResult, LocalWorkflow
from tests.reliability.conftest import (
    TABLE,
    CountingTokens,
    create_idempotency_table,
    guarded_settings,
    local_workflow,
    stored_items,
)
from tests.workflow.conftest import BUS
from tests.workflow.fakes import BUCKET, IMAGE_ID, JOB_ID, FakeIms, make_clients, make_job

pytestmark = pytest.mark.slow

MANUAL = {"image_id": IMAGE_ID, "bucket_url": f"{BUCKET}:exports/web.qcow2", "file_format": "qcow2"}
FORGED_JOB = {
    "job_id": JOB_ID,
    "image_id": IMAGE_ID,
    "image_name": "forged-name",
    "bucket_url": f"{BUCKET}:exports/never-exported.qcow2",
    "file_format": "qcow2",
    "started_at": "2026-11-27T08:00:00Z",
    "deadline": "2026-11-29T08:00:00Z",
    "max_polls_per_execution": 2000,
    "status": "SUCCESS",
}


@pytest.fixture
def continuing_workflow(counting_ims: FakeIms, start_app: Any) -> Iterator[LocalWorkflow]:
    """Two polls per execution, the idempotency table (and so the hand-over records) in moto."""
    del start_app
    with (
        runtime.use_clients(make_clients(counting_ims, guarded_settings(max_polls_per_execution=2))),
        local_workflow() as workflow,
    ):
        create_idempotency_table()
        yield workflow


def run(workflow: LocalWorkflow, event: Any, name: str | None = None) -> ExecutionResult:
    return workflow.wait_for(workflow.start_execution(event, name=name))


def test_a_long_export_continues_through_hand_over_records(
    continuing_workflow: LocalWorkflow, counting_ims: FakeIms
) -> None:
    counting_ims.script_jobs([make_job("RUNNING")] * 4 + [make_job("SUCCESS")])
    first = run(continuing_workflow, MANUAL)
    second = continuing_workflow.wait_for(first.output["continued_in"]["execution_arn"])
    third = continuing_workflow.wait_for(second.output["continued_in"]["execution_arn"])

    assert [first.status, second.status, third.status] == ["SUCCEEDED"] * 3
    assert third.output["polls"] == 5
    assert third.output["continuations"] == 2
    assert third.output["image_name"] == "web server (prod)"  # from IMS, carried by the records
    assert len(counting_ims.calls_to("export_image")) == 1
    assert len(continuing_workflow.published_events(BUS)) == 1
    # Each record was claimed by its continuation (kept for a retry of that step, until it expires).
    records = [item for item in stored_items() if item["id"]["S"].startswith("ims-export-handover#")]
    assert len(records) == 2
    assert all("claimed_at" in record for record in records)


@pytest.mark.parametrize(
    "forged",
    [
        {"resume": FORGED_JOB},  # the job itself, as continuations were once started
        {"resume": {"ticket": "0" * 32}},  # a ticket no execution handed over
        {"resume": {"ticket": "0" * 32}, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:aws:states:x"},
    ],
    ids=["job-as-input", "unknown-ticket", "claims-a-parent"],
)
def test_a_forged_resume_publishes_no_outcome_for_an_export_that_never_happened(
    continuing_workflow: LocalWorkflow, counting_ims: FakeIms, forged: dict[str, Any]
) -> None:
    result = run(continuing_workflow, forged)

    assert result.status == "FAILED"
    assert result.error in {"HandOverNotFoundError", "InvalidRequestError"}
    [published] = continuing_workflow.published_events(BUS)
    assert published["detail-type"] == "Image Export Failed"
    assert "forged-name" not in json.dumps(published)
    assert "never-exported" not in json.dumps(published)
    assert "image_id" not in published["detail"]
    assert counting_ims.calls == []
    assert isinstance(counting_ims.tokens, CountingTokens)
    assert counting_ims.tokens.uses == 0


def test_a_ticket_seen_in_the_history_cannot_be_claimed_again(
    continuing_workflow: LocalWorkflow, counting_ims: FakeIms
) -> None:
    counting_ims.script_jobs([make_job("RUNNING")] * 2 + [make_job("SUCCESS")])
    first = run(continuing_workflow, MANUAL)
    continued = continuing_workflow.wait_for(first.output["continued_in"]["execution_arn"])
    [started] = [
        event for event in continuing_workflow.history(continued.arn) if event["type"] == "ExecutionStarted"
    ]
    replayed_input = json.loads(started["executionStartedEventDetails"]["input"])

    # The same input again, even under a name like the continuation's.
    again = run(continuing_workflow, replayed_input, name=f"{JOB_ID}-2x")

    assert continued.status == "SUCCEEDED"
    assert again.status == "FAILED"
    assert again.error == "HandOverNotFoundError"
    assert len(counting_ims.calls_to("export_image")) == 1
    assert len(counting_ims.calls_to("get_job")) == 3  # no poll for the replayed input


@pytest.mark.usefixtures("dynamodb")
@pytest.mark.parametrize("store_kind", ["dynamodb", "memory"])
def test_a_retried_claim_of_the_same_execution_gets_its_job_again_and_no_other_execution_does(
    store_kind: str,
) -> None:
    import boto3

    from ims_export.steps.handover import DynamoDBHandOverStore, InMemoryHandOverStore, new_ticket

    store: Any = (
        DynamoDBHandOverStore(TABLE, boto3.client("dynamodb"))
        if store_kind == "dynamodb"
        else InMemoryHandOverStore()
    )
    ticket, job = new_ticket(), {"job_id": JOB_ID}
    store.put(ticket, job, execution_name="continuation-1", expires_at=2_000)

    first = store.claim(ticket, execution_name="continuation-1", now=1_000)
    retried = store.claim(ticket, execution_name="continuation-1", now=1_010)  # its answer was lost

    assert first == retried == job
    assert store.claim(ticket, execution_name="someone-else", now=1_020) is None
    assert store.claim(ticket, execution_name="continuation-1", now=2_000) is None  # expired
