"""``make run EVENT=events/fleet/schedule.json``: a fleet of the emulator's seed images through the runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from localdev.emulator import seed
from localdev.runner.emulator_demo import FLEET_DEMO_THROTTLES
from tests.localrun.conftest import ROOT, LocalRun, assert_no_secrets

FLEET_EVENT = ROOT / "events" / "fleet" / "schedule.json"
# The seed's private Linux images IMS refuses, with the code the selection gives.
NOT_EXPORTABLE = {
    seed.FULL_ECS: "IMG.0128",
    seed.ISO: "IMG.0071",
    seed.FROM_BACKUP: "IMG.0080",
    seed.CHARGED: "IMG.0079",
    seed.HUGE: "IMG.0059",
    seed.LARGE_PLAIN: "IMG.0160",
    seed.ENCRYPTED_LARGE: "IMG.0160",
}
# Exported: the exportable ones, and the queued image once it is active (the child waits for it).
EXPORTED = {*seed.EXPORTABLE, seed.QUEUED}


def test_fleet_schedule_runs_the_fleet_with_progress_and_summary(local_run: Callable[..., LocalRun]) -> None:
    result = local_run(FLEET_EVENT)

    assert result.exit_code == 1, result.stderr  # the run succeeded, but an image failed
    summary = result.output
    assert summary["detail_type"] == "Fleet Export Finished"
    assert summary["status"] == "PARTIAL"
    assert set(summary["exported"]) == EXPORTED
    assert {item["image_id"]: item["code"] for item in summary["skipped"]} == NOT_EXPORTABLE
    assert [(item["image_id"], item["error"]) for item in summary["failed"]] == [
        (seed.FAILING, "ExportJobFailed")
    ]
    assert seed.WINDOWS_DERIVED not in result.stdout  # os_type Linux left it out
    assert result.control is not None
    assert result.control.export_jobs() == len(EXPORTED) + 1  # no job for a skipped image
    assert not any(result.control.pending_faults().values())  # the throttled calls were retried

    lines = result.stderr.splitlines()
    # After the run's first line: what the run is comes first, what the emulator then does after it.
    throttled = lines.index(f"emulator: the next {FLEET_DEMO_THROTTLES} export calls are throttled")
    assert lines[0].startswith("ims-export local run: ") and throttled > 0
    # The failed image's line names its export.
    failing = next(line for line in lines if line.startswith(f"  image {seed.FAILING} "))
    assert " (flaky-export-test, to ims-export-demo:exports/flaky-export-test-" in failing, failing
    assert any(line.startswith(f"  selected {len(EXPORTED) + 1} of ") for line in lines)
    for image_id in NOT_EXPORTABLE:
        assert any(line.startswith(f"     skipped {image_id} ") for line in lines)
    assert any(line.startswith("  map run arn:aws:states:") for line in lines)
    for image_id in EXPORTED:  # one line per image as its child export ends
        assert any(
            line.startswith(f"  image {image_id} EXPORTED in ") and line.endswith(" bytes)") for line in lines
        )
    assert any(line.startswith(f"  image {seed.FAILING} FAILED ExportJobFailed: ") for line in lines)
    assert lines[-1].startswith(
        f"fleet PARTIAL: {len(EXPORTED)} exported, {len(NOT_EXPORTABLE)} skipped, 1 failed"
    )
    assert "execution SUCCEEDED" in lines
    (failed,) = summary["failed"]
    assert failed["execution_arn"].startswith("arn:aws:states:eu-central-1:123456789012:execution:")
    assert failed["image_name"] and None not in failed.values()  # what is known, no nulls
    assert "fix the cause, then export those images again" in lines[-1]
    assert_no_secrets(result)


def test_bad_fleet_selection_fails_the_run_before_any_export(
    local_run: Callable[..., LocalRun], event_file: Callable[[Any], Path]
) -> None:
    result = local_run(event_file({"trigger": "fleet", "image_ids": [seed.DEBIAN_SMALL], "tag": "a=b"}))

    assert result.exit_code == 2  # refused before any cloud call
    output = result.output
    assert (output["status"], output["error"]) == ("FAILED", "InvalidRequestError")
    assert (output["detail_type"], output["stage"]) == ("Fleet Export Failed", "select")
    assert "image_ids or filters" in output["cause"]
    assert result.control is not None
    assert result.control.export_jobs() == 0
