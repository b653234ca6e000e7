"""Duplicate deliveries and retried start steps never start a second export."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from benchmarks import polling
from ims_export.errors import (
    ExportAlreadyRunningError,
    JobNotFoundError,
    ObjectAlreadyExistsError,
    UpstreamUnavailableError,
)
from ims_export.steps.contract import Phase
from ims_export.steps.export_guard import IN_PROGRESS_SECONDS
from ims_export.steps.states import Duplicate, Exporting, ReceivedInput, StartInput, WaitingForClaim
from localdev.lambda_handlers import load_handler
from localdev.stepfunctions import ExecutionResult, LocalWorkflow
from tests.reliability.conftest import (
    TABLE,
    create_idempotency_table,
    guarded_settings,
    local_workflow,
    start_as_the_state_machine_does,
    stored_items,
)
from tests.workflow.conftest import BUS, FUNCTIONS
from tests.workflow.fakes import (
    BUCKET,
    IMAGE_ID,
    JOB_ID,
    OTHER_IMAGE_ID,
    SECRET_TOKEN,
    FakeIms,
    make_clients,
    make_image,
    make_job,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MANUAL = {"image_id": IMAGE_ID, "bucket_url": f"{BUCKET}:exports/web.qcow2", "file_format": "qcow2"}
# As EventBridge delivers it: a second delivery is the very same event.
IMAGE_CREATED: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "Image Created",
    "source": "ims-export.images",
    "account": "123456789012",
    "time": "2026-11-26T23:59:58Z",
    "region": "eu-central-1",
    "resources": [],
    "detail": {"image_id": IMAGE_ID},
}


def start_input(event: Any, execution: str | None) -> StartInput:
    return StartInput(state=ReceivedInput(input=event), execution_id=execution)


def start(start_input: StartInput, clients: Any, *, now: datetime) -> Any:
    return start_as_the_state_machine_does(start_input, clients, now=now)


# --- the claims on DynamoDB (moto), written as the state machine writes them ------------------------


@pytest.mark.usefixtures("dynamodb")
def test_a_duplicate_trigger_gets_the_first_job_and_no_second_export(counting_ims: FakeIms) -> None:
    clients = make_clients(counting_ims, guarded_settings())
    first = start(start_input(MANUAL, "execution-1"), clients, now=NOW)
    second = start(start_input(MANUAL, "execution-2"), clients, now=NOW)

    assert isinstance(first, Exporting)
    assert isinstance(second, Duplicate)
    assert second.job == first.job
    assert second.original_execution == "execution-1"
    assert len(counting_ims.calls_to("export_image")) == 1


@pytest.mark.usefixtures("dynamodb")
def test_a_retried_step_of_the_same_execution_polls_the_same_job(counting_ims: FakeIms) -> None:
    clients = make_clients(counting_ims, guarded_settings())
    first = start(start_input(MANUAL, "execution-1"), clients, now=NOW)
    # A new process (another Lambda instance) retries the step: only the table remembers.
    retried = start(start_input(MANUAL, "execution-1"), clients, now=NOW)

    assert isinstance(first, Exporting)
    assert isinstance(retried, Exporting)
    assert retried.job == first.job
    assert len(counting_ims.calls_to("export_image")) == 1


@pytest.mark.usefixtures("dynamodb")
def test_a_replay_without_an_execution_id_is_a_duplicate(counting_ims: FakeIms) -> None:
    clients = make_clients(counting_ims, guarded_settings())
    start(start_input(MANUAL, None), clients, now=NOW)
    replayed = start(start_input(MANUAL, None), clients, now=NOW)

    assert isinstance(replayed, Duplicate)  # never two pollers of one job
    assert len(counting_ims.calls_to("export_image")) == 1


@pytest.mark.usefixtures("dynamodb")
@pytest.mark.parametrize(
    "change",
    [
        {"bucket_url": f"{BUCKET}:exports/other.qcow2"},
        {"file_format": "vmdk"},
        {"file_format": None, "is_quick_export": True},
    ],
)
def test_another_destination_or_format_is_another_export(
    counting_ims: FakeIms, change: dict[str, Any]
) -> None:
    clients = make_clients(counting_ims, guarded_settings())
    start(start_input(MANUAL, "execution-1"), clients, now=NOW)
    other = start(start_input({**MANUAL, **change}, "execution-2"), clients, now=NOW)

    assert isinstance(other, Exporting)
    assert len(counting_ims.calls_to("export_image")) == 2


@pytest.mark.usefixtures("dynamodb")
def test_duplicate_events_name_the_same_default_object_across_midnight(counting_ims: FakeIms) -> None:
    clients = make_clients(counting_ims, guarded_settings())
    before = start(start_input(IMAGE_CREATED, "execution-1"), clients, now=NOW)
    after = start(start_input(IMAGE_CREATED, "execution-2"), clients, now=datetime(2026, 11, 27, 0, 0, 3))

    assert isinstance(before, Exporting)
    assert "20261126" in before.job.bucket_url  # rendered at the event's time, not the step's
    assert isinstance(after, Duplicate)
    assert len(counting_ims.calls_to("export_image")) == 1


@pytest.mark.usefixtures("dynamodb")
def test_a_refused_export_frees_its_key(counting_ims: FakeIms) -> None:
    clients = make_clients(counting_ims, guarded_settings())
    counting_ims.fail_next("export_image", UpstreamUnavailableError("IMS answered 503", status=503))
    with pytest.raises(UpstreamUnavailableError):
        start(start_input(MANUAL, "execution-1"), clients, now=NOW)
    again = start(start_input(MANUAL, "execution-1"), clients, now=NOW)

    assert isinstance(again, Exporting)
    assert len(counting_ims.calls_to("export_image")) == 2
    assert stored_items()  # the successful start is remembered


@pytest.mark.usefixtures("dynamodb")
def test_a_start_still_in_progress_elsewhere_waits_for_its_claim(counting_ims: FakeIms) -> None:
    clients = make_clients(counting_ims, guarded_settings())
    seen: list[Any] = []
    original_export = counting_ims.export_image

    def export_while_another_starts(request: Any) -> str:
        # the duplicate arrives while the first call is still waiting for IMS
        seen.append(start(start_input(MANUAL, "execution-2"), clients, now=NOW))
        return original_export(request)

    counting_ims.export_image = export_while_another_starts  # type: ignore[method-assign]
    first = start(start_input(MANUAL, "execution-1"), clients, now=NOW)
    counting_ims.export_image = original_export  # type: ignore[method-assign]
    [waiting] = seen
    claimed_again = start(StartInput(state=waiting, execution_id="execution-2"), clients, now=NOW)

    assert isinstance(first, Exporting)
    assert isinstance(waiting, WaitingForClaim)
    assert 1 <= waiting.wait_seconds <= IN_PROGRESS_SECONDS + 1  # never past the claim's expiry
    assert isinstance(claimed_again, Duplicate)  # by then the first start recorded its job
    assert claimed_again.job == first.job
    assert len(counting_ims.calls_to("export_image")) == 1


@pytest.mark.usefixtures("dynamodb")
def test_a_claim_left_in_progress_blocks_others_until_its_expiry(counting_ims: FakeIms) -> None:
    clients = make_clients(counting_ims, guarded_settings())
    counting_ims.fail_next("export_image", RuntimeError("the start step died mid-POST"))
    with pytest.raises(RuntimeError):  # no outcome step: the claim stays in progress
        start(start_input(MANUAL, "execution-1"), clients, now=NOW)
    blocked = start(start_input(MANUAL, "execution-2"), clients, now=NOW)
    later = NOW + timedelta(seconds=IN_PROGRESS_SECONDS + 1)
    after_expiry = start(start_input(MANUAL, "execution-3"), clients, now=later)

    assert isinstance(blocked, WaitingForClaim)
    assert isinstance(after_expiry, Exporting)
    assert len(counting_ims.calls_to("export_image")) == 2


@pytest.mark.usefixtures("dynamodb")
def test_the_record_holds_ids_and_never_a_token(counting_ims: FakeIms) -> None:
    clients = make_clients(counting_ims, guarded_settings())
    start(start_input(MANUAL, "execution-1"), clients, now=NOW)

    [item] = stored_items()
    assert item["id"]["S"].startswith("ims-export-start#")
    assert JOB_ID in json.dumps(item)
    assert SECRET_TOKEN not in json.dumps(item)


@pytest.mark.usefixtures("dynamodb")
def test_a_claim_never_holds_a_token_and_names_the_table(counting_ims: FakeIms) -> None:
    from ims_export.steps.start import start as start_step

    clients = make_clients(counting_ims, guarded_settings())
    claiming = start_step(start_input(MANUAL, "execution-1"), clients, now=NOW)

    assert claiming.phase == Phase.CLAIMING
    assert claiming.claim["TableName"] == TABLE
    assert claiming.claim["ConditionExpression"] == "attribute_not_exists(id) OR expiration < :now"
    assert SECRET_TOKEN not in json.dumps(claiming.model_dump(mode="json"))
    assert counting_ims.calls_to("export_image") == []  # nothing is exported before the claim


# --- through the state machine -------------------------------------------------------------------


def run(workflow_: LocalWorkflow, event: Any) -> ExecutionResult:
    return workflow_.wait_for(workflow_.start_execution(event))


def entered_states(workflow_: LocalWorkflow, arn: str) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in workflow_.history(arn)
        if "stateEnteredEventDetails" in event
    ]


@pytest.mark.slow
def test_the_same_event_delivered_twice_exports_once(
    guarded_workflow: LocalWorkflow, counting_ims: FakeIms
) -> None:
    first = run(guarded_workflow, IMAGE_CREATED)
    second = run(guarded_workflow, IMAGE_CREATED)

    assert first.status == "SUCCEEDED"
    assert first.output["status"] == "SUCCEEDED"
    assert second.status == "SUCCEEDED"
    assert second.output["status"] == "DUPLICATE"
    assert second.output["job_id"] == first.output["job_id"] == JOB_ID
    assert second.output["original_execution"] == first.arn
    assert entered_states(guarded_workflow, second.arn)[-1] == "DuplicateTrigger"
    assert "CheckExport" not in entered_states(guarded_workflow, second.arn)
    assert len(counting_ims.calls_to("export_image")) == 1
    assert len(guarded_workflow.published_events(BUS)) == 1  # only the first execution publishes


class LostResponse(Exception):
    """Stands for an answer that never reached Step Functions (named as Lambda reports it)."""


LambdaUnknown = type("Lambda.Unknown", (LostResponse,), {})


@pytest.mark.slow
@pytest.mark.usefixtures("guarded_clients", "start_app")
def test_a_start_step_retried_after_a_lost_response_exports_once(counting_ims: FakeIms) -> None:
    real_start = load_handler(FUNCTIONS["StartExportFunction"])
    answers: list[Any] = []

    def start_losing_an_answer(event: Any, context: Any) -> Any:
        answer = real_start(event, context)
        if "outcome" in event:  # the same function builds the outcome: not a start
            return answer
        answers.append(answer)
        if len(answers) == 1:  # the answer that asks for the claim
            raise LambdaUnknown("the invocation's response was lost")
        return answer

    with local_workflow(handlers={"StartExportFunction": start_losing_an_answer}) as workflow_:
        create_idempotency_table()
        result = run(workflow_, MANUAL)

    assert result.status == "SUCCEEDED"
    assert result.output["job_id"] == JOB_ID
    assert [answer["phase"] for answer in answers][:3] == ["claiming", "claiming", "recording"]
    assert len(counting_ims.calls_to("export_image")) == 1


@pytest.mark.slow
@pytest.mark.usefixtures("guarded_clients", "start_app")
def test_a_start_retried_after_its_post_says_the_running_export_is_probably_its_own(
    counting_ims: FakeIms,
) -> None:
    # The answer after the POST is lost; the retry's POST meets the export the first one started
    # (IMG.0148). IMS lists no jobs, so the failure must say that it is probably this start's own.
    real_start = load_handler(FUNCTIONS["StartExportFunction"])
    lost: list[Any] = []

    def start_losing_the_answer_after_the_post(event: Any, context: Any) -> Any:
        answer = real_start(event, context)
        if answer.get("phase") == "recording" and not lost:
            lost.append(answer)
            counting_ims.fail_next("export_image", ExportAlreadyRunningError("IMG.0148", code="IMG.0148"))
            raise LambdaUnknown("the invocation's response was lost")
        return answer

    with local_workflow(
        handlers={"StartExportFunction": start_losing_the_answer_after_the_post}
    ) as workflow_:
        create_idempotency_table()
        result = run(workflow_, MANUAL)

    assert result.status == "FAILED"
    assert result.error == "ExportStateUnknown"
    assert len(counting_ims.calls_to("export_image")) == 2  # IMS refused the second: no second job
    message = json.loads(result.cause or "{}")["message"]
    assert "retried after an attempt whose answer was lost" in message
    assert IMAGE_ID in message and "make follow JOB=" in message


@pytest.mark.usefixtures("dynamodb")
def test_a_first_post_that_meets_img_0148_names_another_running_export(counting_ims: FakeIms) -> None:
    counting_ims.fail_next("export_image", ExportAlreadyRunningError("IMG.0148", code="IMG.0148"))
    clients = make_clients(counting_ims, guarded_settings())

    with pytest.raises(ExportAlreadyRunningError):  # a first attempt: the running export is another one
        start(start_input(MANUAL, "execution-1"), clients, now=NOW)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ExportAlreadyRunningError("IMG.0148: the image is being exported", code="IMG.0148"), "IMG.0148"),
        (ObjectAlreadyExistsError("IMG.0070: the object exists", code="IMG.0070"), "IMG.0070"),
    ],
)
def test_already_exporting_and_already_exported_are_distinct_named_outcomes(
    guarded_workflow: LocalWorkflow, counting_ims: FakeIms, error: Exception, code: str
) -> None:
    counting_ims.fail_next("export_image", error)
    result = run(guarded_workflow, MANUAL)

    assert result.status == "FAILED"
    assert result.error == type(error).__name__
    assert "ExportFailed" in entered_states(guarded_workflow, result.arn)
    [published] = guarded_workflow.published_events(BUS)
    assert published["detail"]["error"] == type(error).__name__
    assert code in published["detail"]["reason"]
    assert published["detail"]["image_id"] == IMAGE_ID
    assert len(counting_ims.calls_to("export_image")) == 1
    assert [wait for wait in guarded_workflow.waits if wait.kind == "retry"] == []


# --- reruns after a failure, redeliveries -----------------------------------------------------------


@pytest.mark.usefixtures("dynamodb")
def test_a_duplicate_of_a_running_export_names_its_status(counting_ims: FakeIms) -> None:
    counting_ims.script_jobs([make_job("RUNNING")])
    clients = make_clients(counting_ims, guarded_settings())
    start(start_input(MANUAL, "execution-1"), clients, now=NOW)
    second = start(start_input(MANUAL, "execution-2"), clients, now=NOW)

    assert isinstance(second, Duplicate)
    assert second.original_status == "RUNNING"
    assert len(counting_ims.calls_to("export_image")) == 1


@pytest.mark.usefixtures("dynamodb")
def test_a_trigger_after_a_failed_job_exports_again(counting_ims: FakeIms) -> None:
    counting_ims.script_jobs([make_job("FAIL", error_code="IMG.0069")])
    clients = make_clients(counting_ims, guarded_settings())
    start(start_input(MANUAL, "execution-1"), clients, now=NOW)
    again = start(start_input(MANUAL, "execution-2"), clients, now=NOW)

    assert isinstance(again, Exporting)
    assert len(counting_ims.calls_to("export_image")) == 2


@pytest.mark.usefixtures("dynamodb")
def test_a_redelivered_event_never_exports_twice_whatever_the_object_pattern(counting_ims: FakeIms) -> None:
    counting_ims.script_jobs([make_job("FAIL")])  # even after a failure: it is the same delivery
    settings = guarded_settings(export_object_pattern="exports/{image_id}-{timestamp}.{format}")
    clients = make_clients(counting_ims, settings)
    event = {key: value for key, value in IMAGE_CREATED.items() if key != "time"}  # named at step time
    first = start(start_input(event, "execution-1"), clients, now=NOW)
    later = NOW.replace(hour=NOW.hour + 1)
    again = start(start_input(event, "execution-2"), clients, now=later)
    other = start(start_input({**event, "id": "another-event"}, "execution-3"), clients, now=later)

    assert isinstance(first, Exporting)
    assert isinstance(again, Duplicate)
    assert again.original_status == "FAILED"
    assert isinstance(other, Exporting)  # a new event about the image: a new export
    assert len(counting_ims.calls_to("export_image")) == 2


@pytest.mark.usefixtures("dynamodb")
def test_a_delivery_id_absorbs_only_a_redelivery_of_the_same_export(counting_ims: FakeIms) -> None:
    # An event for image B carrying the id of image A's genuine delivery, sent first: A must still export.
    counting_ims.add_image(make_image(OTHER_IMAGE_ID, name="other"))
    clients = make_clients(counting_ims, guarded_settings())
    planted = {**IMAGE_CREATED, "detail": {"image_id": OTHER_IMAGE_ID}}
    first = start(start_input(planted, "execution-1"), clients, now=NOW)
    genuine = start(start_input(IMAGE_CREATED, "execution-2"), clients, now=NOW)
    redelivered = start(start_input(IMAGE_CREATED, "execution-3"), clients, now=NOW)

    assert isinstance(first, Exporting)
    assert isinstance(genuine, Exporting)
    assert genuine.job.image_id == IMAGE_ID
    assert isinstance(redelivered, Duplicate)
    assert [request.image_id for request in counting_ims.calls_to("export_image")] == [
        OTHER_IMAGE_ID,
        IMAGE_ID,
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "fail",
    [
        lambda ims: ims.script_jobs([make_job("FAIL", error_code="IMG.0069", fail_reason="no access")]),
        lambda ims: ims.fail_next("get_job", *[JobNotFoundError("get job: unknown job")] * 20),
    ],
    ids=["job-failed", "check-step-failed"],
)
def test_after_a_failed_execution_the_same_trigger_exports_again(
    guarded_workflow: LocalWorkflow, counting_ims: FakeIms, fail: Any
) -> None:
    fail(counting_ims)
    first = run(guarded_workflow, MANUAL)
    counting_ims.failures.clear()
    counting_ims.script_jobs([make_job("SUCCESS")])
    second = run(guarded_workflow, MANUAL)

    assert first.status == "FAILED"
    assert "release_error" not in guarded_workflow.published_events(BUS)[0]["detail"]
    assert second.status == "SUCCEEDED"
    assert second.output["status"] == "SUCCEEDED"
    assert len(counting_ims.calls_to("export_image")) == 2
    assert [
        item for item in stored_items() if "ims-export-start#" in item["id"]["S"]
    ]  # the rerun is remembered


@pytest.mark.slow
def test_a_duplicate_through_the_state_machine_names_the_original_status(
    guarded_workflow: LocalWorkflow, counting_ims: FakeIms
) -> None:
    first = run(guarded_workflow, MANUAL)
    second = run(guarded_workflow, MANUAL)

    assert first.output["status"] == "SUCCEEDED"
    assert second.output["status"] == "DUPLICATE"
    assert second.output["original_status"] == "SUCCEEDED"


@pytest.mark.slow
@pytest.mark.parametrize(("event", "claims"), [(MANUAL, 1), (IMAGE_CREATED, 2)], ids=["manual", "delivered"])
def test_the_success_path_costs_the_transitions_the_poll_benchmark_counts(
    guarded_workflow: LocalWorkflow, counting_ims: FakeIms, event: Any, claims: int
) -> None:
    counting_ims.script_jobs([make_job("SUCCESS")])
    result = run(guarded_workflow, event)
    entered = entered_states(guarded_workflow, result.arn)

    assert result.status == "SUCCEEDED"
    polls = entered.count("CheckExport")
    counted = [state for state in entered if state != "NotifyTopic"]  # optional: the benchmark leaves it out
    # Each further claim (the delivery's) costs ClaimRecord, StartExport, IsImageReady, RecordOnClaim.
    extra = 4 * (claims - 1)
    assert len(counted) == polling.FIXED_TRANSITIONS + extra + polling.TRANSITIONS_PER_POLL * polls
    assert entered.count("ClaimRecord") == claims
    assert entered.count("RecordOnClaim") == claims


@pytest.mark.slow
def test_a_failed_release_never_loses_the_outcome(
    guarded_workflow: LocalWorkflow, counting_ims: FakeIms
) -> None:
    counting_ims.script_jobs([make_job("FAIL", error_code="IMG.0069", fail_reason="no access")])
    original_get_job = counting_ims.get_job

    def get_job_after_the_table_is_gone(job_id: str) -> Any:
        boto3.client("dynamodb").delete_table(TableName=TABLE)  # ReleaseExport then fails
        counting_ims.get_job = original_get_job  # type: ignore[method-assign]
        return original_get_job(job_id)

    counting_ims.get_job = get_job_after_the_table_is_gone  # type: ignore[method-assign]
    result = run(guarded_workflow, MANUAL)

    assert result.status == "FAILED"
    assert result.error == "ExportJobFailed"
    [published] = guarded_workflow.published_events(BUS)
    assert published["detail"]["release_error"] == "DynamoDB.ResourceNotFoundException"
    assert published["detail"]["error_code"] == "IMG.0069"
    entered = entered_states(guarded_workflow, result.arn)
    assert (
        entered.index("ReleaseExport") < entered.index("NoteReleaseError") < entered.index("PutOutcomeEvent")
    )


@pytest.mark.slow
def test_a_refused_export_through_the_state_machine_leaves_no_claim(
    guarded_workflow: LocalWorkflow, counting_ims: FakeIms
) -> None:
    counting_ims.fail_next(
        "export_image", ObjectAlreadyExistsError("IMG.0070: the object exists", code="IMG.0070")
    )
    refused = run(guarded_workflow, IMAGE_CREATED)
    again = run(guarded_workflow, IMAGE_CREATED)  # the same delivery, once the object is moved away

    assert refused.status == "FAILED"
    assert "ReleaseExport" in entered_states(guarded_workflow, refused.arn)
    assert again.status == "SUCCEEDED"
    assert again.output["status"] == "SUCCEEDED"
    assert len(counting_ims.calls_to("export_image")) == 2
