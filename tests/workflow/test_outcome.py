"""The outcome step: every ending, at every stage, names the image, the target, the error and a
readable message, with a structured cause and the step's clock; and a failed export is released."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ims_export.steps import outcome as outcome_module
from ims_export.steps.claim_records import export_record_id
from ims_export.steps.export_guard import ExportClaims
from ims_export.steps.outcome import build_outcome, structured_cause
from ims_export.steps.outcome_payloads import CaughtError, DescribedOutcome, OutcomeInput
from ims_export.steps.release import release_failed_export
from tests.workflow.fakes import BUCKET, IMAGE_ID, JOB_ID, make_settings

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
EXECUTION = "arn:aws:states:eu-de:1:execution:ims-export:e1"
TARGET = f"{BUCKET}:exports/web.qcow2"
JOB: dict[str, Any] = {
    "job_id": JOB_ID,
    "image_id": IMAGE_ID,
    "image_name": "web",
    "bucket_url": TARGET,
    "file_format": "qcow2",
    "started_at": "2026-11-27T08:00:00Z",
    "deadline": "2026-11-29T08:00:00Z",
    "max_polls_per_execution": 2000,
    "status": "RUNNING",
    "polls": 12,
    "elapsed_seconds": 3600.0,
}


def lambda_failure(error: str, message: str) -> dict[str, str]:
    """A Catch's result for a Lambda error, as Step Functions hands it over."""
    cause = {"errorMessage": message, "errorType": error, "requestId": "r-1", "stackTrace": ["  File x"]}
    return {"Error": error, "Cause": json.dumps(cause)}


def describe(state: Any) -> DescribedOutcome:
    request = OutcomeInput.model_validate({"state": state, "execution_id": EXECUTION})
    return build_outcome(request, now=NOW, settings=make_settings())


def published(described: DescribedOutcome) -> dict[str, Any]:
    """The outcome as the state machine publishes it."""
    dumped: dict[str, Any] = described.model_dump(mode="json", exclude_none=True)["outcome"]
    return dumped


def assert_actionable_failure(outcome: Mapping[str, Any], error: str) -> None:
    assert outcome["status"] == "FAILED"
    assert outcome["detail_type"] == "Image Export Failed"
    assert outcome["error"] == error
    assert outcome["message"]
    assert outcome["execution"] == EXECUTION
    assert outcome["finished_at"] == "2026-11-27T10:00:00Z"  # the step's clock


def test_a_refused_input_names_the_image_and_target_it_asked_for() -> None:
    event = {"image_id": IMAGE_ID, "bucket_url": TARGET, "file_format": "vhd", "is_quick_export": True}
    message = "file_format cannot be given with is_quick_export (quick export writes ZVHD2)"
    described = describe({"input": event, "failure": lambda_failure("InvalidRequestError", message)})
    outcome = published(described)

    assert_actionable_failure(outcome, "InvalidRequestError")
    assert (outcome["stage"], outcome["image_id"], outcome["bucket_url"]) == ("start", IMAGE_ID, TARGET)
    assert outcome["is_quick_export"] is True
    assert "file_format" not in outcome  # a quick export has none
    assert outcome["message"] == message
    assert outcome["cause"] == {
        "errorType": "InvalidRequestError",
        "errorMessage": message,
        "requestId": "r-1",
    }
    assert (described.route, described.publish) == ("InvalidRequest", True)


def test_a_start_failure_names_the_image_and_the_default_format_without_any_call() -> None:
    message = "IAM refused the credentials"
    outcome = published(
        describe({"input": {"image_id": IMAGE_ID}, "failure": lambda_failure("AuthenticationError", message)})
    )

    assert_actionable_failure(outcome, "AuthenticationError")
    assert (outcome["image_id"], outcome["file_format"]) == (IMAGE_ID, "qcow2")
    assert "bucket_url" not in outcome  # the default object name needs the image's name
    assert outcome["cause"]["errorMessage"] == message


@pytest.mark.parametrize("event", [[], "x", {"image_id": "not-an-id"}, {"resume": {"ticket": "t"}}])
def test_a_start_failure_of_an_input_naming_no_image_still_is_an_outcome(event: Any) -> None:
    outcome = published(describe({"input": event, "failure": lambda_failure("InvalidRequestError", "bad")}))

    assert_actionable_failure(outcome, "InvalidRequestError")
    assert "image_id" not in outcome


def test_an_image_wait_failure_names_the_image_its_status_and_the_checks() -> None:
    state = {
        "phase": "waiting_for_image",
        "order": {"trigger": "manual", "image_id": IMAGE_ID, "bucket_url": TARGET},
        "image_status": "saving",
        "checks": 120,
        "wait_seconds": 15,
        "execution_started_at": "2026-11-27T09:00:00Z",
        "failure": lambda_failure("ImageNotReadyError", f"image {IMAGE_ID} is still saving"),
    }
    described = describe(state)
    outcome = published(described)

    assert_actionable_failure(outcome, "ImageNotReadyError")
    assert (outcome["stage"], outcome["image_status"], outcome["image_checks"]) == (
        "image_wait",
        "saving",
        120,
    )
    assert (outcome["image_id"], outcome["bucket_url"], outcome["file_format"]) == (IMAGE_ID, TARGET, "qcow2")
    assert "image_name" not in outcome  # an answer of an earlier release names none
    assert described.route == "ImageNotReady"


def test_an_image_wait_failure_names_the_image_and_the_default_target_the_start_step_saw() -> None:
    default_target = f"{BUCKET}:exports/web-{IMAGE_ID}-20261127.qcow2"
    state = {
        "phase": "waiting_for_image",
        "order": {"trigger": "manual", "image_id": IMAGE_ID},  # the name left to the pattern
        "image_name": "web",
        "bucket_url": default_target,
        "image_status": "queued",
        "checks": 3,
        "wait_seconds": 15,
        "execution_started_at": "2026-11-27T09:00:00Z",
        "failure": lambda_failure("ImageNotReadyError", f"image {IMAGE_ID} is still queued"),
    }
    outcome = published(describe(state))

    assert (outcome["image_id"], outcome["image_name"], outcome["bucket_url"]) == (
        IMAGE_ID,
        "web",
        default_target,
    )


def test_a_check_failure_names_the_job_and_its_progress() -> None:
    described = describe(
        {
            "phase": "exporting",
            "job": JOB,
            "failure": lambda_failure("UnknownJobStatusError", "status PAUSED"),
        }
    )
    outcome = published(described)

    assert_actionable_failure(outcome, "UnknownJobStatusError")
    assert (outcome["stage"], outcome["job_id"], outcome["polls"]) == ("export", JOB_ID, 12)
    assert (outcome["image_name"], outcome["bucket_url"]) == ("web", TARGET)
    assert described.route == "ExportFailed"


def test_a_failed_job_carries_the_ims_code_and_reason() -> None:
    job = {
        **JOB,
        "status": "FAIL",
        "error_code": "IMG.0069",
        "fail_reason": "The OBS bucket cannot be accessed.",
    }
    described = describe({"phase": "exporting", "job": job})
    outcome = published(described)

    assert_actionable_failure(outcome, "ExportJobFailed")
    assert (outcome["error_code"], outcome["fail_reason"]) == (
        "IMG.0069",
        "The OBS bucket cannot be accessed.",
    )
    assert "IMG.0069: The OBS bucket cannot be accessed." in outcome["message"]
    assert described.route == "ExportJobFailed"


def test_a_timed_out_export_says_it_may_still_run() -> None:
    described = describe({"phase": "exporting", "job": {**JOB, "timed_out": True}})
    outcome = published(described)

    assert_actionable_failure(outcome, "ExportTimedOut")
    assert "EXECUTION_TIMEOUT_SECONDS" in outcome["message"]
    assert "may still be running" in outcome["message"]
    assert described.route == "ExportTimedOut"


def test_a_status_the_poll_loop_does_not_know_is_a_named_failure() -> None:
    described = describe({"phase": "exporting", "job": JOB})

    assert_actionable_failure(published(described), "UnknownJobStatus")
    assert described.route == "ExportFailed"


def test_a_success_names_the_object_the_time_and_the_polls() -> None:
    job = {**JOB, "status": "SUCCESS", "finished_at": "2026-11-27T09:00:00Z", "percent": 100.0}
    described = describe({"phase": "exporting", "job": job})
    outcome = published(described)

    assert (outcome["status"], outcome["detail_type"]) == ("SUCCEEDED", "Image Export Succeeded")
    assert "error" not in outcome
    assert outcome["export_finished_at"] == "2026-11-27T09:00:00Z"
    assert (
        outcome["message"]
        == f"exported image {IMAGE_ID} (web) to {TARGET} in 1h 00m 00s with 12 polls (job {JOB_ID})"
    )
    assert (described.route, described.publish) == ("ExportSucceeded", True)


def test_a_duplicate_names_the_original_and_is_not_published() -> None:
    described = describe(
        {"phase": "duplicate", "job": JOB, "original_execution": "arn:first", "original_status": "RUNNING"}
    )
    outcome = published(described)

    assert (outcome["status"], outcome["original_status"], outcome["job_id"]) == (
        "DUPLICATE",
        "RUNNING",
        JOB_ID,
    )
    assert "arn:first" in outcome["message"]
    assert (described.route, described.publish) == ("DuplicateTrigger", False)


def test_a_refused_smn_delivery_names_nothing_from_the_body_and_is_not_published() -> None:
    body = json.dumps({"image_id": IMAGE_ID})
    failure = lambda_failure("SmnMessageRefusedError", "SMN delivery refused: unsigned (Unsigned)")
    described = describe({"input": {"smn_body": body}, "failure": failure})
    outcome = published(described)

    assert (outcome["status"], outcome["stage"], outcome["error"]) == (
        "REFUSED",
        "smn",
        "SmnMessageRefusedError",
    )
    assert "image_id" not in outcome
    assert (described.route, described.publish) == ("RequestRefused", False)


@pytest.mark.parametrize(
    ("cause", "expected_message"),
    [(None, ""), ("Task timed out after 120.00 seconds", "Task timed out after 120.00 seconds")],
)
def test_a_workflow_error_has_a_readable_message_and_a_structured_cause(
    cause: str | None, expected_message: str
) -> None:
    described = describe(
        {"phase": "exporting", "job": JOB, "failure": {"Error": "States.Timeout", "Cause": cause}}
    )
    outcome = published(described)

    assert_actionable_failure(outcome, "States.Timeout")
    assert outcome["cause"] == {"errorType": "States.Timeout", "errorMessage": expected_message}
    assert outcome["message"].startswith("a step did not answer within its TimeoutSeconds")
    assert described.route == "WorkflowFailed"


def test_a_cause_is_never_json_inside_a_string() -> None:
    as_json = structured_cause(
        CaughtError(Error="X", Cause=json.dumps({"errorMessage": "m", "errorType": "X"}))
    )
    as_text = structured_cause(CaughtError(Error="X", Cause="not json {"))
    not_lambda = structured_cause(CaughtError(Error="X", Cause=json.dumps([1, 2])))

    assert as_json == {"errorMessage": "m", "errorType": "X"}
    assert as_text == {"errorType": "X", "errorMessage": "not json {"}
    assert not_lambda == {"errorType": "X", "errorMessage": "[1, 2]"}


def test_the_known_optional_job_fields_are_copied_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stand-ins for the optional fields (object, retention) an export may add to its job.
    monkeypatch.setattr(
        outcome_module,
        "OPTIONAL_JOB_FIELDS",
        ("image_size_bytes", "unreadable_since", "unreadable_answers_x"),
    )
    job = {
        **JOB,
        "status": "SUCCESS",
        "image_size_bytes": 10 << 30,
        "unreadable_since": "2026-11-27T09:30:00Z",
    }
    outcome = published(describe({"phase": "exporting", "job": job}))

    assert outcome["image_size_bytes"] == 10 << 30
    assert outcome["unreadable_since"] == "2026-11-27T09:30:00Z"  # serialized like the other times
    assert "unreadable_answers_x" not in outcome  # not a field of this job: left out


def test_an_ending_without_job_or_error_is_still_an_outcome() -> None:
    described = describe({"phase": "exporting"})

    assert_actionable_failure(published(described), "States.Runtime")
    assert described.route == "WorkflowFailed"


CLAIMS = ExportClaims("ims-export-idempotency", expires_after_seconds=3600)


def released(state: dict[str, Any], execution: str | None = EXECUTION) -> DescribedOutcome:
    request = OutcomeInput.model_validate({"state": state, "execution_id": execution})
    described = build_outcome(request, now=NOW, settings=make_settings())
    return release_failed_export(described, request.state, CLAIMS, execution=execution)


def test_a_failed_export_is_released_if_its_record_still_holds_the_job() -> None:
    described = released({"phase": "exporting", "job": {**JOB, "status": "FAIL"}})

    assert described.release is not None
    [delete] = described.release.deletes
    key = {"image_id": IMAGE_ID, "bucket_url": TARGET, "file_format": "qcow2", "is_quick_export": False}
    assert delete == {
        "TableName": "ims-export-idempotency",
        "Key": {"id": {"S": export_record_id(key)}},
        "ConditionExpression": "job_id = :job_id",
        "ExpressionAttributeValues": {":job_id": {"S": JOB_ID}},
    }
    assert described.outcome.status == "FAILED"  # the outcome itself is unchanged


@pytest.mark.parametrize(
    "state",
    [
        {"phase": "exporting", "job": {**JOB, "status": "SUCCESS"}},
        {"input": {"image_id": IMAGE_ID}, "failure": lambda_failure("ImageNotFoundError", "no such image")},
    ],
    ids=["success", "failure-without-job-or-claims"],
)
def test_only_a_failed_job_or_a_failed_claiming_start_is_released(state: dict[str, Any]) -> None:
    assert released(state).release is None


def test_without_an_idempotency_table_nothing_is_released() -> None:
    request = OutcomeInput.model_validate({"state": {"phase": "exporting", "job": {**JOB, "status": "FAIL"}}})
    described = build_outcome(request, now=NOW, settings=make_settings())
    assert release_failed_export(described, request.state, None, execution=EXECUTION) == described


def test_a_start_that_failed_while_claiming_drops_the_claims_it_holds_and_names_the_export() -> None:
    pending = {
        "request": {"image_id": IMAGE_ID, "bucket_url": TARGET, "file_format": "qcow2"},
        "image_name": "web",
        "deadline": "2026-11-29T08:00:00Z",
        "delivery_id": "smn:m-1",
        "claiming": "export",
        "held": ["ims-export-delivery#d"],
    }
    failure = lambda_failure("ExportAlreadyRunningError", "IMG.0148: the image is being exported")
    described = released({"phase": "claiming", "pending": pending, "claim": {}, "failure": failure})

    assert described.release is not None
    deleted = [delete["Key"]["id"]["S"] for delete in described.release.deletes]
    assert deleted[0] == "ims-export-delivery#d"
    assert deleted[1].startswith("ims-export-start#")  # the claim in flight, if it was made
    for delete in described.release.deletes:  # only while this execution holds it, in progress
        assert delete["ConditionExpression"] == "started_by = :execution AND claim_state = :in_progress"
        assert delete["ExpressionAttributeValues"][":execution"] == {"S": EXECUTION}
    outcome = described.outcome
    assert (outcome.stage, outcome.image_id, outcome.bucket_url, outcome.image_name) == (
        "start",
        IMAGE_ID,
        TARGET,
        "web",
    )


def test_times_are_those_of_the_clock_given() -> None:
    later = NOW + timedelta(days=3)
    request = OutcomeInput.model_validate({"state": {"phase": "exporting", "job": JOB}})
    assert build_outcome(request, now=later, settings=make_settings()).outcome.finished_at == later


def test_hidden_characters_of_an_image_name_are_written_out_in_the_outcome() -> None:
    # A right-to-left override or a bell in an image name reaches mail, chat and consoles through the
    # outcome's event and message: each is shown as \uXXXX, never passed on.
    name = "web\u202egnp.exe\x07"
    outcome = published(
        describe({"phase": "exporting", "job": {**JOB, "status": "SUCCESS", "image_name": name}})
    )

    text = json.dumps(outcome, ensure_ascii=False)
    assert "\u202e" not in text
    assert "\x07" not in text
    assert outcome["image_name"] == "web\\u202egnp.exe\\u0007"
    assert "web\\u202egnp.exe\\u0007" in outcome["message"]


def test_an_export_whose_object_is_missing_ends_with_the_job_of_the_success_poll() -> None:
    missing = {"bucket": BUCKET, "key": "exports/web.qcow2", "url": "https://x", "verification": "missing",
               "verification_reason": "OBS has no object exports/web.qcow2"}  # fmt: skip
    job = {
        **JOB,
        "status": "SUCCESS",
        "percent": 100.0,
        "finished_at": "2026-11-27T09:00:00Z",
        "object": missing,
    }

    described = describe({"phase": "exporting", "job": job})
    outcome = published(described)

    assert_actionable_failure(outcome, "ExportObjectMissing")
    assert (described.route, outcome["stage"], outcome["job_status"]) == (
        "ExportObjectMissing",
        "verify",
        "SUCCESS",
    )
    assert (outcome["percent"], outcome["export_finished_at"]) == (100.0, "2026-11-27T09:00:00Z")
    assert outcome["message"] == outcome["cause"]["errorMessage"] == "OBS has no object exports/web.qcow2"
