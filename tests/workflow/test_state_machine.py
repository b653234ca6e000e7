"""The real definition, run by moto's interpreter with the real handlers and a scripted IMS."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from ims_export import runtime
from ims_export.errors import (
    ConfigurationError,
    ImsRequestError,
    JobNotFoundError,
    ObjectAlreadyExistsError,
    UnknownJobStatusError,
    UpstreamThrottledError,
    UpstreamUnavailableError,
)
from localdev.stepfunctions import ExecutionResult, LocalWorkflow
from tests.workflow.conftest import BUS, TOPIC, LogCapture, WorkflowFactory
from tests.workflow.fakes import (
    IMAGE_ID,
    JOB_ID,
    SECRET_TOKEN,
    FakeIms,
    make_clients,
    make_image,
    make_job,
    make_settings,
)

pytestmark = pytest.mark.slow
MANUAL = {"image_id": IMAGE_ID, "bucket_url": "ims-export-demo:exports/web.qcow2", "file_format": "qcow2"}


def run(workflow: LocalWorkflow, event: Any) -> ExecutionResult:
    return workflow.wait_for(workflow.start_execution(event))


def entered_states(workflow: LocalWorkflow, arn: str) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in workflow.history(arn)
        if "stateEnteredEventDetails" in event
    ]


def assert_no_secrets(workflow: LocalWorkflow, logs: LogCapture) -> None:
    """No token in any state input/output of any execution, in any handler answer, or in any log line."""
    for execution in workflow.executions():
        assert SECRET_TOKEN not in json.dumps(workflow.history(execution["executionArn"]), default=str)
    assert SECRET_TOKEN not in json.dumps([invocation.result for invocation in workflow.invocations])
    assert logs.lines, "the handlers logged nothing: the capture is broken"
    assert not [line for line in logs.lines if SECRET_TOKEN in line]


def cause_of(result: ExecutionResult) -> dict[str, Any]:
    assert result.cause is not None
    cause: dict[str, Any] = json.loads(result.cause)
    return cause


def test_success_after_several_polls(
    workflow: LocalWorkflow, fake_ims: FakeIms, captured_logs: LogCapture
) -> None:
    fake_ims.script_jobs(
        [
            make_job("INIT"),
            make_job("RUNNING", entities={"process_percent": 10}),
            make_job("RUNNING", entities={"process_percent": 70}),
            make_job("SUCCESS", end_time="2026-11-27T09:00:00Z"),
        ]
    )
    result = run(workflow, MANUAL)

    assert result.status == "SUCCEEDED"
    assert result.output["status"] == "SUCCEEDED"
    assert result.output["job_id"] == JOB_ID
    assert result.output["polls"] == 4
    assert result.output["bucket_url"] == MANUAL["bucket_url"]
    assert result.output["file_format"] == "qcow2"
    assert [request.bucket_url for request in fake_ims.calls_to("export_image")] == [MANUAL["bucket_url"]]
    assert fake_ims.calls_to("get_job") == [JOB_ID] * 4
    assert [wait.kind for wait in workflow.waits] == ["wait"] * 4
    assert all(wait.seconds >= 15 for wait in workflow.waits)
    [published] = workflow.published_events(BUS)
    assert published["source"] == "ims-export"
    assert published["detail-type"] == "Image Export Succeeded"
    assert published["detail"]["job_id"] == JOB_ID
    [message] = workflow.topic_messages(TOPIC)
    assert message["status"] == "SUCCEEDED"
    assert_no_secrets(workflow, captured_logs)


def test_job_failure_is_named_and_carries_the_ims_reason(
    workflow: LocalWorkflow, fake_ims: FakeIms, captured_logs: LogCapture
) -> None:
    fake_ims.script_jobs(
        [
            make_job("RUNNING"),
            make_job("FAIL", error_code="IMG.0069", fail_reason="The OBS bucket cannot be accessed."),
        ]
    )
    result = run(workflow, MANUAL)

    assert result.status == "FAILED"
    assert result.error == "ExportJobFailed"
    cause = cause_of(result)
    assert cause["error_code"] == "IMG.0069"
    assert cause["fail_reason"] == "The OBS bucket cannot be accessed."
    assert cause["polls"] == 2
    [published] = workflow.published_events(BUS)
    assert published["detail-type"] == "Image Export Failed"
    assert published["detail"]["error"] == "ExportJobFailed"
    assert len(fake_ims.calls_to("export_image")) == 1
    assert_no_secrets(workflow, captured_logs)


def test_non_exportable_image_is_refused_without_an_export(
    workflow: LocalWorkflow, fake_ims: FakeIms
) -> None:
    fake_ims.add_image(make_image(__whole_image="true"))
    result = run(workflow, MANUAL)

    assert result.status == "FAILED"
    assert result.error == "ImageNotExportableError"
    outcome = cause_of(result)
    assert "IMG.0128" in outcome["cause"]["errorMessage"]
    assert outcome["cause"]["errorType"] == "ImageNotExportableError"
    assert "IMG.0128" in outcome["message"]
    assert (outcome["image_id"], outcome["bucket_url"], outcome["file_format"]) == (
        IMAGE_ID,
        MANUAL["bucket_url"],
        "qcow2",
    )
    assert fake_ims.calls_to("export_image") == []
    # The start step, then the outcome step: the check step never ran.
    assert [invocation.function for invocation in workflow.invocations] == [
        "StartExportFunction",
        "DescribeOutcomeFunction",
    ]
    assert workflow.published_events(BUS)[0]["detail"]["stage"] == "start"


def test_unknown_image_is_not_exportable(workflow: LocalWorkflow, fake_ims: FakeIms) -> None:
    result = run(workflow, {**MANUAL, "image_id": "7d2e1f3a-9b8c-4d5e-a6f7-0123456789ab"})

    assert result.status == "FAILED"
    assert result.error == "ImageNotFoundError"
    assert fake_ims.calls_to("export_image") == []


def test_invalid_event_fails_before_any_call_to_ims(
    workflow: LocalWorkflow, fake_ims: FakeIms, captured_logs: LogCapture
) -> None:
    result = run(workflow, {"detail-type": "Image Created", "source": "x", "detail": {"name": "no id"}})

    assert result.status == "FAILED"
    assert result.error == "InvalidRequestError"
    assert fake_ims.calls == []
    assert workflow.waits == []  # never retried
    assert workflow.published_events(BUS)[0]["detail"]["error"] == "InvalidRequestError"


def test_transient_errors_are_retried_with_backoff(workflow: LocalWorkflow, fake_ims: FakeIms) -> None:
    fake_ims.fail_next("get_image", UpstreamUnavailableError("IMS answered 503", status=503))
    fake_ims.fail_next(
        "get_job",
        UpstreamThrottledError("IMG.0060 flow control", code="IMG.0060"),
        UpstreamThrottledError("HTTP 429", status=429),
    )
    fake_ims.script_jobs([make_job("SUCCESS")])
    result = run(workflow, MANUAL)

    assert result.status == "SUCCEEDED"
    # The start step's error is retried by the state machine; the check step counts failed job queries
    # itself and backs off (POLL_MIN_SECONDS, doubling), so they never end the tracking at once.
    retries = [wait.seconds for wait in workflow.waits if wait.kind == "retry"]
    assert len(retries) == 1
    assert all(0 <= seconds <= 300 for seconds in retries)  # full jitter stays under the cap
    assert len(fake_ims.calls_to("get_image")) == 2
    assert len(fake_ims.calls_to("export_image")) == 1
    assert len(fake_ims.calls_to("get_job")) == 3


def test_terminal_errors_are_not_retried(workflow: LocalWorkflow, fake_ims: FakeIms) -> None:
    fake_ims.fail_next(
        "export_image", ObjectAlreadyExistsError("IMG.0070: the object exists", code="IMG.0070")
    )
    result = run(workflow, MANUAL)

    assert result.status == "FAILED"
    assert result.error == "ObjectAlreadyExistsError"
    assert "ExportFailed" in entered_states(workflow, result.arn)
    assert len(fake_ims.calls_to("export_image")) == 1
    assert [wait for wait in workflow.waits if wait.kind == "retry"] == []


def test_an_undocumented_job_status_ends_the_poll_loop(workflow: LocalWorkflow, fake_ims: FakeIms) -> None:
    fake_ims.fail_next("get_job", UnknownJobStatusError("get job: unknown job status 'PAUSED'"))
    result = run(workflow, MANUAL)

    assert result.status == "FAILED"
    assert result.error == "UnknownJobStatusError"
    assert len(fake_ims.calls_to("get_job")) == 1
    assert cause_of(result)["job_id"] == JOB_ID
    # The error names the export it ended, as every failed step's does.
    assert cause_of(result)["message"].startswith(f"export of image {cause_of(result)['image_id']} (")


@pytest.mark.parametrize(
    "error",
    [
        JobNotFoundError("get job: IMS does not know this job", code="IMG.0404", status=404),
        ImsRequestError("get job: HTTP 302 Found", status=302),
        ConfigurationError("get job: neither IMS job API exists"),
    ],
    ids=["unknown-job", "redirect", "job-apis-gone"],
)
def test_one_odd_job_answer_never_ends_a_running_export(
    workflow: LocalWorkflow, fake_ims: FakeIms, error: Exception
) -> None:
    fake_ims.fail_next("get_job", error)
    fake_ims.script_jobs([make_job("RUNNING"), make_job("SUCCESS")])
    result = run(workflow, MANUAL)

    assert result.status == "SUCCEEDED"
    assert len(fake_ims.calls_to("get_job")) == 3
    assert len(fake_ims.calls_to("export_image")) == 1


def test_still_saving_image_is_waited_for_by_the_state_machine(
    workflow: LocalWorkflow, fake_ims: FakeIms
) -> None:
    fake_ims.add_image(make_image(status="queued"), make_image(status="saving"), make_image(status="active"))
    result = run(workflow, MANUAL)

    assert result.status == "SUCCEEDED"
    assert entered_states(workflow, result.arn).count("WaitForImage") == 2
    assert len(fake_ims.calls_to("get_image")) == 3
    assert len(fake_ims.calls_to("export_image")) == 1


def test_image_that_never_becomes_ready_fails_named(
    workflow_factory: WorkflowFactory, fake_ims: FakeIms
) -> None:
    fake_ims.add_image(make_image(status="saving"))
    with (
        runtime.use_clients(make_clients(fake_ims, make_settings(max_image_checks=3))),
        workflow_factory() as workflow,
    ):
        result = run(workflow, MANUAL)

    assert result.status == "FAILED"
    assert result.error == "ImageNotReadyError"
    assert len(fake_ims.calls_to("get_image")) == 3
    assert fake_ims.calls_to("export_image") == []


def test_export_deadline_fails_as_timed_out(workflow_factory: WorkflowFactory, fake_ims: FakeIms) -> None:
    fake_ims.script_jobs([make_job("RUNNING")])
    with (
        runtime.use_clients(make_clients(fake_ims, make_settings(execution_timeout_seconds=1))),
        workflow_factory(on_wait=lambda _seconds: time.sleep(0.3)) as workflow,
    ):
        result = run(workflow, MANUAL)
        published = workflow.published_events(BUS)

    assert result.status == "FAILED"
    assert result.error == "ExportTimedOut"
    assert published[0]["detail"]["error"] == "ExportTimedOut"
    assert 1 <= len(fake_ims.calls_to("get_job")) <= 5


def test_execution_timeout_backstop(workflow_factory: WorkflowFactory, fake_ims: FakeIms) -> None:
    fake_ims.script_jobs([make_job("RUNNING")])
    with workflow_factory(execution_timeout_seconds=1, on_wait=lambda _seconds: time.sleep(0.25)) as workflow:
        result = workflow.wait_for(workflow.start_execution(MANUAL), timeout=120)

    assert result.status == "TIMED_OUT"
    assert len(fake_ims.calls_to("export_image")) == 1


def test_every_time_of_an_outcome_is_on_the_steps_clock(
    workflow_factory: WorkflowFactory, fake_ims: FakeIms
) -> None:
    step_clock = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)  # far from the interpreter's own clock
    fake_ims.script_jobs([make_job("RUNNING"), make_job("FAIL", error_code="IMG.0069")])
    clients = replace(make_clients(fake_ims), clock=lambda: step_clock)
    with runtime.use_clients(clients), workflow_factory() as workflow:
        result = run(workflow, MANUAL)
        [published] = workflow.published_events(BUS)

    outcome = cause_of(result)
    assert published["detail"] == outcome
    assert outcome["export_started_at"] == outcome["finished_at"] == "2031-05-04T12:00:00Z"
    assert outcome["export_finished_at"] == "2031-05-04T12:00:00Z"  # IMS named no end time
    assert (outcome["image_id"], outcome["bucket_url"], outcome["job_id"]) == (
        IMAGE_ID,
        MANUAL["bucket_url"],
        JOB_ID,
    )
