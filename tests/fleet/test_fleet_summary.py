"""Each image's result from its child export (every way a child can end), and the run's summary."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ims_export.fleet import items as fleet_items
from ims_export.fleet import summary as fleet_summary
from ims_export.fleet import tally as fleet_tally
from ims_export.fleet.items import ItemRecord, ItemResult, record_item
from ims_export.fleet.selection import (
    MAX_NAME_CHARS,
    MAX_REASON_CHARS,
    MAX_SKIPPED_REASON_CHARS,
    SkippedImage,
    shorten,
)
from ims_export.fleet.summary import SummaryRequest, summarize

IMAGE = "2542e7a1-52a3-4693-bd2a-4efae19ef09f"
STARTED = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def succeeded_outcome(**fields: Any) -> dict[str, Any]:
    return {"status": "SUCCEEDED", "image_id": IMAGE, "elapsed_seconds": 312.5, "polls": 7, **fields}


def child(status: str, output: Any = None, **fields: Any) -> dict[str, Any]:
    described: dict[str, Any] = {"ExecutionArn": "arn:child", "Status": status, **fields}
    if output is not None:
        described["Output"] = output
    return described


def failed_outcome(error: str, **fields: Any) -> str:
    return json.dumps({"status": "FAILED", "error": error, "image_id": IMAGE, **fields})


def record(**fields: Any) -> ItemResult:
    return record_item(ItemRecord.model_validate({"image_id": IMAGE, "order": {"image_id": IMAGE}, **fields}))


def test_succeeded_child_is_exported_with_its_duration() -> None:
    # startExecution.sync:2 parses Output; describeExecution (following a continuation) does not.
    for output in (succeeded_outcome(), json.dumps(succeeded_outcome())):
        result = record(child=child("SUCCEEDED", output))
        assert result == ItemResult(image_id=IMAGE, status="EXPORTED", elapsed_seconds=312.5, polls=7)


def test_succeeded_child_carries_its_object() -> None:
    verified = {"size_bytes": 2147483648, "verification": "verified", "url": "https://b.obs/x"}
    result = record(child=child("SUCCEEDED", succeeded_outcome(object=verified)))
    assert result.object == verified

    unverified = {"size_bytes": None, "verification": "unverified", "verification_reason": "403"}
    result = record(child=child("SUCCEEDED", json.dumps(succeeded_outcome(object=unverified))))
    assert result.object == unverified

    for unusable in (None, "garbage"):
        result = record(child=child("SUCCEEDED", succeeded_outcome(object=unusable)))
        assert (result.status, result.object) == ("EXPORTED", None)


def test_duplicate_child_is_skipped_naming_the_running_export() -> None:
    output = {"status": "DUPLICATE", "original_execution": "arn:first", "image_id": IMAGE}
    result = record(child=child("SUCCEEDED", output))
    assert (result.status, result.error) == ("SKIPPED", "DuplicateTrigger")
    assert result.reason is not None and "arn:first" in result.reason


def test_continued_child_is_followed_by_its_new_execution() -> None:
    output = {"phase": "exporting", "continued_in": {"execution_arn": "arn:next"}}
    result = record(child=child("SUCCEEDED", output))
    assert result == ItemResult(image_id=IMAGE, status="CONTINUED", execution_arn="arn:next")


def test_failed_job_gives_the_ims_code_and_reason() -> None:
    cause = failed_outcome("ExportJobFailed", error_code="IMG.0077", fail_reason="OBS write failed")
    failure = {
        "Error": "States.TaskFailed",
        "Cause": json.dumps(child("FAILED", Error="ExportJobFailed", Cause=cause)),
    }
    result = record(failure=failure)
    assert result == ItemResult(
        image_id=IMAGE, status="FAILED", error="ExportJobFailed", reason="IMG.0077: OBS write failed"
    )


def test_failed_job_carries_how_far_the_export_got() -> None:
    cause = failed_outcome(
        "ExportJobFailed", error_code="IMG.0077", fail_reason="x", polls=2, elapsed_seconds=66.0
    )
    failure = {"Error": "States.TaskFailed", "Cause": json.dumps(child("FAILED", Cause=cause))}
    result = record(failure=failure)
    assert (result.polls, result.elapsed_seconds) == (2, 66.0)
    garbage = failed_outcome("ExportJobFailed", polls="two", elapsed_seconds=-1)
    result = record(
        failure={"Error": "States.TaskFailed", "Cause": json.dumps(child("FAILED", Cause=garbage))}
    )
    assert (result.polls, result.elapsed_seconds) == (None, None)


def test_a_failed_or_refused_child_names_its_export_and_the_summary_stays_small() -> None:
    named = {"image_name": "web", "bucket_url": "b:exports/web.qcow2"}
    cause = failed_outcome("ObjectAlreadyExistsError", reason="the object exists", **named)
    failed_item = record(
        failure={"Error": "States.TaskFailed", "Cause": json.dumps(child("FAILED", Cause=cause))}
    )
    refused = failed_outcome("ImageNotReadyError", reason="saving", image_name="web")
    skipped_item = record(child=child("FAILED", Error="ImageNotReadyError", Cause=refused))
    assert (failed_item.status, failed_item.image_name, failed_item.bucket_url) == ("FAILED", *named.values())
    assert (skipped_item.status, skipped_item.image_name) == ("SKIPPED", "web")
    long_name = record(
        child=child(
            "FAILED", Error="ExportJobFailed", Cause=failed_outcome("ExportJobFailed", image_name="n" * 500)
        )
    )
    assert len(long_name.image_name or "") <= MAX_NAME_CHARS

    summary = summarize(request([failed_item, skipped_item]), now=STARTED)

    # A listed image keeps its name; a listed failed one leaves its target to its result file.
    assert [(item.image_id, item.image_name) for item in summary.skipped] == [(IMAGE, "web")]
    assert [(item.image_name, item.bucket_url) for item in summary.failed] == [("web", None)]


@pytest.mark.parametrize(
    "outcome_fields",
    [
        {"cause": {"errorType": "ExportTargetError", "errorMessage": "IMG.0058: bucket elsewhere"}},
        {"message": "IMG.0058: bucket elsewhere", "cause": {"errorType": "ExportTargetError"}},
    ],
    ids=["structured-cause", "message"],
)
def test_failed_outcome_of_the_outcome_step_gives_its_reason(outcome_fields: dict[str, Any]) -> None:
    cause = failed_outcome("ExportTargetError", stage="start", **outcome_fields)
    failure = {"Error": "States.TaskFailed", "Cause": json.dumps(child("FAILED", Cause=cause))}
    assert record(failure=failure).reason == "IMG.0058: bucket elsewhere"


def test_failed_start_step_gives_the_lambda_error_message() -> None:
    lambda_error = json.dumps(
        {"errorType": "ExportTargetError", "errorMessage": "IMG.0058: bucket elsewhere"}
    )
    cause = failed_outcome("ExportTargetError", cause=lambda_error, stage="start")
    failure = {
        "Error": "States.TaskFailed",
        "Cause": json.dumps(child("FAILED", Error="ExportTargetError", Cause=cause)),
    }
    result = record(failure=failure)
    assert (result.status, result.error, result.reason) == (
        "FAILED",
        "ExportTargetError",
        "IMG.0058: bucket elsewhere",
    )


@pytest.mark.parametrize("error", sorted(fleet_items.SKIP_ERRORS))
def test_child_refusing_the_image_counts_as_skipped(error: str) -> None:
    cause = failed_outcome(error, cause="image cannot be exported")
    failure = {"Error": "States.TaskFailed", "Cause": json.dumps(child("FAILED", Error=error, Cause=cause))}
    assert record(failure=failure).status == "SKIPPED"


def test_continuation_that_timed_out_is_failed() -> None:
    result = record(child=child("TIMED_OUT"), status="CONTINUED", execution_arn="arn:next")
    assert (result.status, result.error) == ("FAILED", "ExecutionTimedOut")


def test_child_that_could_not_start_keeps_the_step_functions_error_and_a_short_reason() -> None:
    failure = {"Error": "StepFunctions.ExecutionLimitExceededException", "Cause": "x" * 1000}
    result = record(failure=failure)
    assert (result.status, result.error) == ("FAILED", "StepFunctions.ExecutionLimitExceededException")
    assert result.reason is not None and len(result.reason) == MAX_REASON_CHARS


@pytest.mark.parametrize("output", [None, "not json", {"status": "SOMETHING"}])
def test_unexpected_child_output_is_a_failure_not_a_crash(output: Any) -> None:
    described = child("SUCCEEDED", output) if output is not None else child("SUCCEEDED")
    result = record(child=described)
    assert (result.status, result.error) == ("FAILED", "UnexpectedChildOutput")


# --- the summary -----------------------------------------------------------------------------------


def exported(n: int, seconds: float) -> ItemResult:
    return ItemResult(image_id=f"img-{n}", status="EXPORTED", elapsed_seconds=seconds, polls=3)


def failed(n: int) -> ItemResult:
    return ItemResult(image_id=f"bad-{n}", status="FAILED", error="ExportJobFailed", reason="IMG.0077: no")


def request(results: list[ItemResult], skipped: int = 0, listed_skipped: int | None = None) -> SummaryRequest:
    entries = [SkippedImage(image_id=f"skip-{n}", code="IMG.0071", reason="ISO") for n in range(skipped)]
    return SummaryRequest(
        results=results,
        skipped=entries[:listed_skipped],
        skipped_count=skipped,
        considered=len(results) + skipped,
        execution="arn:fleet",
        started_at=STARTED,
    )


def test_summary_counts_and_durations() -> None:
    results = [
        exported(1, 100.0),
        exported(2, 300.0),
        failed(1),
        ItemResult(image_id="dup", status="SKIPPED", error="DuplicateTrigger", reason="r"),
    ]
    summary = summarize(request(results, skipped=2), now=STARTED + timedelta(minutes=30))

    assert summary.status == "PARTIAL"
    assert (summary.considered, summary.selected) == (6, 4)
    assert (summary.exported_count, summary.skipped_count, summary.failed_count) == (2, 3, 1)
    assert summary.exported == ["img-1", "img-2"]
    assert [item.image_id for item in summary.skipped] == ["skip-0", "skip-1", "dup"]
    assert summary.skipped[-1].code == "DuplicateTrigger"
    assert summary.durations.model_dump() == {
        "fleet_seconds": 1800.0,
        "export_seconds_min": 100.0,
        "export_seconds_max": 300.0,
        "export_seconds_mean": 200.0,
        "export_seconds_total": 400.0,
    }
    assert summary.truncated is False


@pytest.mark.parametrize(
    ("results", "status"),
    [
        ([], "SUCCEEDED"),
        ([exported(1, 1.0)], "SUCCEEDED"),
        ([failed(1)], "FAILED"),
        ([ItemResult(image_id="x", status="CONTINUED", execution_arn="arn:x")], "FAILED"),
    ],
)
def test_summary_status(results: list[ItemResult], status: str) -> None:
    summary = summarize(request(results), now=STARTED)
    assert summary.status == status


def test_summary_lists_are_capped_but_counts_are_exact() -> None:
    many = fleet_tally.MAX_LISTED_IN_SUMMARY + 5
    summary = summarize(
        request([failed(n) for n in range(many)], skipped=many, listed_skipped=3), now=STARTED
    )
    assert (summary.failed_count, summary.skipped_count) == (many, many)
    assert len(summary.failed) == fleet_tally.MAX_LISTED_FAILED
    assert len(summary.skipped) == 3  # the selection listed only these
    assert summary.truncated is True


def test_summary_adds_exported_bytes_and_counts_verifications() -> None:
    def with_object(n: int, **described: Any) -> ItemResult:
        return exported(n, 5.0).model_copy(update={"object": described})

    results = [
        with_object(1, size_bytes=1000, verification="verified"),
        with_object(2, size_bytes=24, verification="verified"),
        with_object(3, size_bytes=None, verification="unverified"),
        exported(4, 5.0),  # checked by no one (verification off)
        with_object(5, size_bytes=-1, verification="maybe"),  # garbage counts for nothing
        failed(1),
    ]

    summary = summarize(request(results), now=STARTED)

    assert summary.exported_bytes == 1024
    counts = summary.verification
    assert (counts.verified, counts.unverified, counts.not_checked) == (2, 1, 2)
    notice = summary.notice()
    assert notice["exported_bytes"] == 1024
    assert notice["verification"] == {"verified": 2, "unverified": 1, "not_checked": 2}


def test_bytes_and_verifications_count_every_export_beyond_the_listed_ones() -> None:
    cap = fleet_tally.MAX_LISTED_EXPORTED
    results = [
        exported(n, 1.0).model_copy(update={"object": {"size_bytes": n, "verification": "verified"}})
        for n in range(cap + 5)
    ]

    summary = summarize(request(results), now=STARTED)

    assert summary.exported_bytes == sum(range(cap + 5))
    assert len(summary.exported) == cap
    assert summary.verification.verified == cap + 5


def test_notice_leaves_out_exported_ids_and_caps_the_lists() -> None:
    cap = fleet_summary.MAX_LISTED_IN_NOTICE
    small = summarize(request([exported(1, 5.0), failed(1)], skipped=1), now=STARTED).notice()
    assert "exported" not in small
    assert (small["exported_count"], len(small["failed"]), len(small["skipped"])) == (1, 1, 1)
    assert small["truncated"] is False
    assert small["detail_type"] == "Fleet Export Finished"
    json.dumps(small)  # JSON-ready for EventBridge and SNS

    large = summarize(request([failed(n) for n in range(cap + 1)]), now=STARTED).notice()
    assert len(large["failed"]) == cap
    assert large["failed_count"] == cap + 1
    assert large["truncated"] is True


def test_failed_entries_name_their_child_execution() -> None:
    export_machine = "arn:aws:states:eu-central-1:123456789012:stateMachine:stack-export"
    continued = ItemResult(image_id="cont", status="CONTINUED", execution_arn="arn:next")
    summary = summarize(
        request([exported(1, 5.0), failed(1), continued]),
        now=STARTED,
        export_state_machine_arn=export_machine,
    )

    digest = hashlib.md5(b"arn:fleet", usedforsecurity=False).hexdigest()  # the Map's child name
    by_image = {item.image_id: item.execution_arn for item in summary.failed}
    assert by_image == {
        "bad-1": f"arn:aws:states:eu-central-1:123456789012:execution:stack-export:bad-1-{digest}",
        "cont": "arn:next",  # the execution it went on in, as recorded
    }
    assert summary.notice()["failed"][0]["execution_arn"] == by_image["bad-1"]


# --- shortened reasons -----------------------------------------------------------------------------

QUICK_EXPORT = (
    "it is 200 GB; images above 128 GB can only be exported with quick export: "
    "set is_quick_export (without file_format)"
)
ENCRYPTED = (
    "it is 200 GB; images above 128 GB can only be exported with quick export: "
    "decrypt it first, since quick export is not available for encrypted images"
)


def test_a_short_reason_is_kept_whole() -> None:
    assert shorten("IMG.0077: no") == "IMG.0077: no"
    assert shorten(QUICK_EXPORT, limit=len(QUICK_EXPORT)) == QUICK_EXPORT


def test_a_long_reason_keeps_its_advice_and_is_cut_between_words() -> None:
    shortened = shorten(QUICK_EXPORT, limit=80)

    assert len(shortened) <= 80
    assert shortened.endswith(": set is_quick_export (without file_format)")
    statement = shortened.removesuffix("...: set is_quick_export (without file_format)")
    assert QUICK_EXPORT.startswith(statement)
    assert QUICK_EXPORT[len(statement)] == " "  # cut where a word ended


def test_advice_too_long_for_a_statement_is_kept_alone() -> None:
    shortened = shorten(ENCRYPTED, limit=80)

    assert len(shortened) <= 80
    assert shortened == "... decrypt it first, since quick export is not available for encrypted images"


def test_text_without_advice_is_cut_at_a_word_end() -> None:
    text = "the export ended without an outcome " * 5

    shortened = shorten(text, limit=40)

    assert len(shortened) <= 40
    assert shortened.endswith("...")
    words = shortened.removesuffix("...").split(" ")
    assert all(word in text.split() for word in words)


def test_the_skipped_listing_keeps_quick_export_refusals_whole_or_with_their_advice() -> None:
    # The selection lists a skipped image with the whole refusal when it fits MAX_SKIPPED_REASON_CHARS.
    assert shorten(QUICK_EXPORT, MAX_SKIPPED_REASON_CHARS) == QUICK_EXPORT
    assert shorten(ENCRYPTED, MAX_SKIPPED_REASON_CHARS).endswith(
        ": decrypt it first, since quick export is not available for encrypted images"
    )
