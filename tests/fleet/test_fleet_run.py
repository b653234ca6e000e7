"""A fleet of emulated images through the local runner: the real fleet and export definitions, the real
handlers, the emulator; with images that cannot be exported, a failing job, throttling and a
concurrency limit. Pages and result pieces are made small, so that this scaled-down fleet takes every
path a fleet of 10,000 images takes: several pages (several Distributed Map runs), several pieces."""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest

from benchmarks.fleet import estimated_events
from ims_export.fleet import results as fleet_results
from ims_export.fleet import selection as fleet_selection
from localdev.emulator import DEFAULT_BUCKET, Emulator, FaultKind, ManualClock, Route
from localdev.runner.describe import fleet_summary_line
from localdev.runner.execution import run_workflow
from localdev.runner.targets import emulator_target
from localdev.stepfunctions import ExecutionResult, LocalWorkflow

BUS = "ims-export-outcomes"
TOPIC = "NotificationTopic"
CONCURRENCY = 4
FLEET_SIZE = 15
PAGE_SIZE = 6  # 3 pages
PIECE_BYTES = 1024
THROTTLES = 4
FLEET_BUCKET = "ims-export-local-fleetbucket"

pytestmark = pytest.mark.slow


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one moment (an end at the same moment as a start closes first)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(stop, -1) for _, stop in intervals])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_max_overlap_counts_nested_and_touching_intervals() -> None:
    t = [datetime(2026, 1, 1, 0, 0, s) for s in range(6)]
    assert max_overlap([(t[0], t[3]), (t[1], t[2]), (t[2], t[4]), (t[4], t[5])]) == 2


def _described(description: dict[str, Any]) -> dict[str, Any]:
    if "output" in description:
        description["output"] = json.loads(description["output"])
    return description


@pytest.fixture(scope="module")
def fleet_run() -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fleet_selection, "PAGE_SIZE", PAGE_SIZE)
        patch.setattr(fleet_results, "PIECE_BYTES", PIECE_BYTES)
        yield from _fleet_run()


def _fleet_run() -> Iterator[dict[str, Any]]:
    clock = ManualClock(start=time.time())
    observed: dict[str, Any] = {}

    def observe(workflow: LocalWorkflow, result: ExecutionResult) -> None:
        observed["children"] = [
            _described(workflow.sfn.describe_execution(executionArn=execution["executionArn"]))
            for execution in workflow.executions("ExportStateMachine")
        ]
        observed["events"] = workflow.published_events(BUS)
        observed["messages"] = workflow.topic_messages(TOPIC)
        observed["history"] = workflow.history(result.arn)
        s3 = boto3.client("s3", region_name="eu-central-1")
        listed = s3.list_objects_v2(Bucket=FLEET_BUCKET).get("Contents", [])
        observed["fleet_files"] = {item["Key"]: item["Size"] for item in listed}

    with Emulator(clock=clock) as emulator:
        control = emulator.control
        fleet_ids = control.generate_images(FLEET_SIZE)
        whole: dict[str, Any] = {"__whole_image": "true"}
        whole_ecs = control.add_image("fleet-whole-ecs", **whole)
        backup: dict[str, Any] = {"__backup_id": "c0ffee00-1234-4abc-8def-0123456789ab"}
        from_backup = control.add_image("fleet-from-backup", **backup)
        other = control.add_image("other-not-in-fleet")
        failing = fleet_ids[7]
        control.fail_exports_of(failing, error_code="IMG.0077", fail_reason="OBS write failed")
        control.inject(Route.EXPORT, FaultKind.FLOW_CONTROL, times=THROTTLES, skip=2)
        stream = io.StringIO()
        selection = {"trigger": "fleet", "name_prefix": "fleet-", "max_concurrency": CONCURRENCY}
        result = run_workflow(
            selection,
            emulator_target(emulator, clock),
            overrides={
                "ExportBucket": DEFAULT_BUCKET,
                "EventBusName": BUS,
                "NotificationTopicArn": "create",
            },
            stream=stream,
            timeout=900,
            observe=observe,
        )
        yield {
            **observed,
            "result": result,
            "progress": stream.getvalue(),
            "fleet_ids": fleet_ids,
            "not_exportable": {whole_ecs: "IMG.0128", from_backup: "IMG.0080"},
            "other": other,
            "failing": failing,
            "pending_faults": control.pending_faults(),
            "export_jobs": control.export_jobs(),
            "objects": control.bucket_objects(DEFAULT_BUCKET),
        }


def test_fleet_summary_counts_every_image(fleet_run: dict[str, Any]) -> None:
    result = fleet_run["result"]
    assert result.status == "SUCCEEDED", result.cause
    summary = result.output
    assert summary["status"] == "PARTIAL"
    assert summary["considered"] == FLEET_SIZE + 2
    assert summary["selected"] == FLEET_SIZE
    assert (summary["exported_count"], summary["skipped_count"], summary["failed_count"]) == (
        FLEET_SIZE - 1,
        2,
        1,
    )
    assert set(summary["exported"]) == set(fleet_run["fleet_ids"]) - {fleet_run["failing"]}
    assert summary["truncated"] is False
    assert fleet_run["other"] not in json.dumps(summary)
    durations = summary["durations"]
    seconds = [child["output"]["elapsed_seconds"] for child in fleet_run["children"] if "output" in child]
    assert len(seconds) == FLEET_SIZE - 1
    assert durations["export_seconds_min"] == min(seconds) > 0
    assert durations["export_seconds_max"] == max(seconds)
    assert durations["export_seconds_total"] == pytest.approx(sum(seconds))
    # One clock: the fleet lasts at least as long as its longest export (the emulator's clock, here).
    assert durations["fleet_seconds"] >= durations["export_seconds_max"] > 0


def test_every_exported_image_has_its_own_object(fleet_run: dict[str, Any]) -> None:
    objects = fleet_run["objects"]
    assert len(objects) == len(set(objects)) == FLEET_SIZE - 1
    for image_id in set(fleet_run["fleet_ids"]) - {fleet_run["failing"]}:
        assert sum(image_id in name for name in objects) == 1


def test_summary_adds_the_verified_objects_bytes(fleet_run: dict[str, Any]) -> None:
    summary = fleet_run["result"].output
    objects = {
        child["output"]["image_id"]: child["output"]["object"]
        for child in fleet_run["children"]
        if "output" in child
    }
    assert all(exported["verification"] == "verified" for exported in objects.values())
    assert summary["verification"] == {"verified": FLEET_SIZE - 1, "unverified": 0, "not_checked": 0}
    by_image = {image_id: exported["size_bytes"] for image_id, exported in objects.items()}
    assert summary["exported_bytes"] == sum(by_image.values()) > 0  # each image's own: in its object


def test_skipped_and_failed_images_carry_reasons(fleet_run: dict[str, Any]) -> None:
    summary = fleet_run["result"].output
    skipped = {item["image_id"]: item for item in summary["skipped"]}
    assert {image_id: item["code"] for image_id, item in skipped.items()} == fleet_run["not_exportable"]
    assert all(item["reason"] and item["image_name"].startswith("fleet-") for item in skipped.values())
    (failed,) = summary["failed"]
    assert failed["image_id"] == fleet_run["failing"]
    assert failed["error"] == "ExportJobFailed"
    assert failed["reason"] == "IMG.0077: OBS write failed"
    # The entry names the child execution that failed, as Step Functions named it.
    (failed_child,) = [child for child in fleet_run["children"] if child["status"] == "FAILED"]
    assert failed["execution_arn"] == failed_child["executionArn"]


def test_concurrency_limit_holds_and_no_child_for_skipped_images(fleet_run: dict[str, Any]) -> None:
    children = fleet_run["children"]
    assert len(children) == FLEET_SIZE  # the images skipped at selection never started a child
    peak = max_overlap([(child["startDate"], child["stopDate"]) for child in children])
    assert 1 < peak <= CONCURRENCY
    assert fleet_run["export_jobs"] == FLEET_SIZE


def test_throttling_slowed_but_did_not_fail_the_fleet(fleet_run: dict[str, Any]) -> None:
    assert not any(fleet_run["pending_faults"].values())  # every IMG.0060 answer was met and retried
    statuses = [child["status"] for child in fleet_run["children"]]
    assert statuses.count("SUCCEEDED") == FLEET_SIZE - 1
    assert statuses.count("FAILED") == 1


def test_summary_is_published_as_outcome_event_and_notification(fleet_run: dict[str, Any]) -> None:
    (event,) = [event for event in fleet_run["events"] if event["detail-type"] == "Fleet Export Finished"]
    notice = event["detail"]
    assert (notice["exported_count"], notice["skipped_count"], notice["failed_count"]) == (
        FLEET_SIZE - 1,
        2,
        1,
    )
    assert "exported" not in notice  # the outcome event carries counts, skipped and failed
    assert notice["failed"][0]["image_id"] == fleet_run["failing"]
    assert notice["truncated"] is False
    assert notice in fleet_run["messages"]


def test_progress_shows_every_image_and_the_summary(fleet_run: dict[str, Any]) -> None:
    progress = fleet_run["progress"]
    assert f"selected {FLEET_SIZE} of {FLEET_SIZE + 2} images, at most {CONCURRENCY} at a time" in progress
    for image_id in fleet_run["fleet_ids"]:
        assert f"image {image_id} " in progress
    assert f"image {fleet_run['failing']} FAILED ExportJobFailed: IMG.0077: OBS write failed" in progress
    # The CLI closes with this line (localdev.run.main).
    summary_line = fleet_summary_line(fleet_run["result"].output)
    assert summary_line is not None
    assert summary_line.startswith(f"fleet PARTIAL: {FLEET_SIZE - 1} exported, 2 skipped, 1 failed")


def test_every_page_was_written_and_exported_by_its_own_map_run(fleet_run: dict[str, Any]) -> None:
    files = fleet_run["fleet_files"]
    pages = [key for key in files if key.startswith("items/")]
    assert len(pages) == math.ceil(FLEET_SIZE / PAGE_SIZE)
    manifests = [key for key in files if key.endswith("/manifest.json")]
    assert len(manifests) == len(pages)
    assert len(fleet_run["result"].output["map_runs"]) == len(pages)


def test_fleet_history_is_what_the_benchmark_estimates(fleet_run: dict[str, Any]) -> None:
    # Children keep their polls and retries: the fleet's history grows per page and per piece read.
    files = fleet_run["fleet_files"]
    pages = len([key for key in files if key.startswith("items/")])
    pieces = sum(
        math.ceil(size / PIECE_BYTES)
        for key, size in files.items()
        if key.rsplit("/", 1)[-1].startswith("SUCCEEDED_")
    )
    assert pieces > pages  # the results were read in several pieces
    assert len(fleet_run["history"]) == estimated_events(pages=pages, pieces=pieces, topic=True)


def test_the_summary_line_writes_durations_as_every_other_line_does() -> None:
    summary = {
        "status": "SUCCEEDED",
        "detail_type": "Fleet Export Finished",
        "exported_count": 2,
        "skipped_count": 0,
        "failed_count": 0,
        "considered": 2,
        "durations": {"fleet_seconds": 1016.996, "export_seconds_mean": None},
    }
    assert fleet_summary_line(summary) == (
        "fleet SUCCEEDED: 2 exported, 0 skipped, 0 failed of 2 considered in 16m 57s (export mean n/a)"
    )
