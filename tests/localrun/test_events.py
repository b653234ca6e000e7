"""Every sample event in events/ runs end to end through the local runner against the built-in emulator."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from localdev.emulator import DEFAULT_BUCKET
from tests.localrun.conftest import EVENTS, LocalRun, assert_no_secrets

pytestmark = pytest.mark.slow

JOB_LINE = re.compile(
    r"job [0-9a-f]+ (INIT|RUNNING|SUCCESS) progress (n/a|[0-9.]+ %), polls \d+, next poll in (?:\d+m )?\d+s"
)


# Samples of an export that fails (the emulator's seed image whose job ends FAIL).
FAILING_EVENTS = [path for path in EVENTS if "failing" in path.stem]
EXPORTING_EVENTS = [path for path in EVENTS if path not in FAILING_EVENTS]


def test_there_are_sample_events() -> None:
    assert {path.name for path in EVENTS} >= {
        "manual.json",
        "scheduled.json",
        "image-created.json",
        "export-failing.json",
    }


@pytest.mark.parametrize("event_path", FAILING_EVENTS, ids=[path.stem for path in FAILING_EVENTS])
def test_failing_sample_ends_in_a_failed_job_and_says_what_to_do(
    event_path: Path, local_run: Callable[..., LocalRun]
) -> None:
    result = local_run(event_path)

    assert result.exit_code == 1, result.stderr
    output = result.output
    assert (output["status"], output["error"]) == ("FAILED", "ExportJobFailed")
    cause = output  # the outcome itself
    assert cause["job_status"] == "FAIL"
    assert cause["fail_reason"]
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"export of image {cause['image_id']} ({cause['image_name']}) to ")
    # The reason's full stop makes way for the advice (no ".;").
    reason = str(cause["fail_reason"]).rstrip(".")
    advice = "read error_code and fail_reason in the output"
    assert last.endswith(f"failed: ExportJobFailed: {cause['error_code']}: {reason}; {advice}")
    assert_no_secrets(result)


@pytest.mark.parametrize("event_path", EXPORTING_EVENTS, ids=[path.stem for path in EXPORTING_EVENTS])
def test_sample_event_exports_its_image(event_path: Path, local_run: Callable[..., LocalRun]) -> None:
    result = local_run(event_path)

    assert result.exit_code == 0, result.stderr
    output = result.output  # stdout holds the final JSON and nothing else
    assert output["status"] == "SUCCEEDED"
    assert output["job_status"] == "SUCCESS"
    bucket, _, object_name = output["bucket_url"].partition(":")
    assert bucket == DEFAULT_BUCKET
    assert result.control is not None
    assert object_name in result.control.bucket_objects(bucket)
    assert result.control.export_jobs() == 1
    assert result.control.export_jobs(output["image_id"]) == 1

    # Progress is on stderr only.
    lines = result.stderr.splitlines()
    for state in ("StartExport", "WaitBeforePoll", "CheckExport", "ExportSucceeded"):
        assert f"  -> {state}" in lines
    statuses = [match.group(1) for line in lines if (match := JOB_LINE.search(line))]
    assert statuses[0] == "INIT"
    assert statuses[-1] == "SUCCESS"
    assert "execution SUCCEEDED" in lines
    # The last line says what happened: the object, the time it took and the polls.
    assert lines[-1].startswith(f"exported image {output['image_id']} ")
    assert f" to {output['bucket_url']} in " in lines[-1]
    assert f" with {output['polls']} polls; object verified, " in lines[-1]
    assert "-> " not in result.stdout
    assert "_aws" not in result.stderr  # Powertools' metric blobs are not progress
    assert_no_secrets(result)
