"""The runner's exit status and output for events that cannot export, and the environment it honours."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localdev.emulator import Control, seed
from tests.localrun.conftest import ROOT, LocalRun, assert_no_secrets

pytestmark = pytest.mark.slow
EVENTS_DIR = ROOT / "events"


def test_event_no_rule_matches_exits_2_without_starting(
    local_run: Callable[..., LocalRun], event_file: Callable[[Any], Path]
) -> None:
    event = {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}

    result = local_run(event_file(event))

    assert result.exit_code == 2
    assert (result.output["status"], result.output["stage"]) == ("REFUSED", "run")
    assert "no EventBridgeRule of the state machine matches this event" in result.output["message"]
    assert "no EventBridgeRule of the state machine matches this event" in result.stderr
    assert "'aws.ec2'" in result.stderr
    assert "execution arn:" not in result.stderr


def test_unreadable_event_file_exits_2(local_run: Callable[..., LocalRun], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")

    result = local_run(broken)

    assert result.exit_code == 2
    assert result.output["status"] == "REFUSED"
    assert f"event file {broken} is not JSON" in result.stderr


def test_invalid_event_exits_2_with_invalid_request(
    local_run: Callable[..., LocalRun], event_file: Callable[[Any], Path]
) -> None:
    result = local_run(event_file({"image_id": "not-an-image-id"}))

    assert result.exit_code == 2  # refused before any cloud call
    output = result.output
    assert output["status"] == "FAILED"
    assert output["error"] == "InvalidRequestError"
    assert output["detail_type"] == "Image Export Failed"  # the outcome itself
    assert "image_id" in output["cause"]["errorMessage"]  # structured, not JSON in a string
    assert output["stage"] == "start"
    assert "  -> InvalidRequest" in result.stderr.splitlines()
    assert result.control is not None
    assert result.control.export_jobs() == 0


def test_non_exportable_image_exits_1_with_image_not_exportable(
    local_run: Callable[..., LocalRun], event_file: Callable[[Any], Path]
) -> None:
    result = local_run(event_file({"image_id": seed.ISO}))

    assert result.exit_code == 1
    output = result.output
    assert output["error"] == "ImageNotExportableError"
    assert "IMG.0071" in output["cause"]["errorMessage"]
    assert output["image_id"] == seed.ISO
    assert "  -> ImageNotExportable" in result.stderr.splitlines()
    assert result.control is not None
    assert result.control.export_jobs() == 0
    assert_no_secrets(result)


def test_export_defaults_come_from_the_environment(
    local_run: Callable[..., LocalRun], event_file: Callable[[Any], Path]
) -> None:
    bucket = "team-exports"

    result = local_run(
        event_file({"image_id": seed.DEBIAN_SMALL}),
        EXPORT_BUCKET=bucket,
        EXPORT_FILE_FORMAT="vmdk",
        EXPORT_OBJECT_PATTERN="nightly/{image_name}.{format}",
        prepare=lambda control: control.register_bucket(bucket),
    )

    assert result.exit_code == 0, result.stdout
    output = result.output
    assert output["bucket_url"] == f"{bucket}:nightly/debian-12-web.vmdk"
    assert output["file_format"] == "vmdk"
    assert result.control is not None
    assert result.control.bucket_objects(bucket) == ["nightly/debian-12-web.vmdk"]
    (job,) = result.control.jobs()
    assert (job["bucket"], job["object_name"]) == (bucket, "nightly/debian-12-web.vmdk")


def test_poll_bounds_come_from_the_environment(
    local_run: Callable[..., LocalRun], event_file: Callable[[Any], Path]
) -> None:
    # With the defaults (15-600 s) this export is polled after 15 s, then after about 35 s.
    result = local_run(
        event_file({"image_id": seed.DEBIAN_SMALL}), POLL_MIN_SECONDS="20", POLL_MAX_SECONDS="25"
    )

    assert result.exit_code == 0, result.stdout
    waits = [
        int(match.group(1)) for match in re.finditer(r"next poll in (\d+)s$", result.stderr, re.MULTILINE)
    ]
    running_waits = waits[:-1]  # the last line is the finished job (next poll 0)
    assert running_waits
    assert all(20 <= wait <= 25 for wait in running_waits), waits


def test_a_start_failure_sample_names_image_target_error_and_advice(
    local_run: Callable[..., LocalRun],
) -> None:
    result = local_run(EVENTS_DIR / "manual" / "unknown-image.json")

    assert result.exit_code == 1
    outcome = result.output
    assert (outcome["status"], outcome["stage"], outcome["error"]) == (
        "FAILED",
        "start",
        "ImageNotFoundError",
    )
    assert (outcome["image_id"], outcome["bucket_url"], outcome["file_format"]) == (
        "00000000-0000-4000-8000-000000000000",
        "ims-export-demo:exports/missing.qcow2",
        "qcow2",
    )
    assert outcome["cause"]["errorType"] == "ImageNotFoundError"
    assert "no such image" in outcome["message"]
    last = result.stderr.splitlines()[-1]
    assert last.startswith("export of image 00000000-0000-4000-8000-000000000000 to ims-export-demo:")
    assert last.endswith("; check the image id and the project (OS_PROJECT_NAME / ProjectName)")
    assert result.control is not None
    assert result.control.export_jobs() == 0


NEVER_READY = "5e1f0c3a-9b7d-4e2a-8c6f-1d2e3f4a5b6c"


def _never_ready(control: Control) -> None:
    control.add_image("still-saving", image_id=NEVER_READY, status="queued", activate_after_seconds=10**9)


@dataclass(frozen=True)
class StageFailure:
    """An export that fails at ``stage`` with ``error``, and the image its outcome must name."""

    event: Any  # a document, or the path of an event file
    stage: str
    error: str
    image_id: str
    image_name: str
    prepare: Callable[[Control], object] | None = None
    settings: dict[str, str] = field(default_factory=dict)


# The start stage: test_a_start_failure_sample_names_image_target_error_and_advice.
STAGE_FAILURES = [
    StageFailure(
        {"image_id": NEVER_READY},  # the object name left to the pattern: the start step renders it
        "image_wait",
        "ImageNotReadyError",
        NEVER_READY,
        "still-saving",
        prepare=_never_ready,
        settings={"MAX_IMAGE_CHECKS": "2"},
    ),
    StageFailure(
        EVENTS_DIR / "export-failing.json", "export", "ExportJobFailed", seed.FAILING, "flaky-export-test"
    ),
    StageFailure(
        {"image_id": seed.DEBIAN_SMALL},
        "verify",
        "ExportObjectMissing",
        seed.DEBIAN_SMALL,
        "debian-12-web",
        prepare=lambda control: control.obs.set_exports(lost=True),
    ),
]


@pytest.mark.parametrize("case", STAGE_FAILURES, ids=[case.stage for case in STAGE_FAILURES])
def test_a_failure_at_every_stage_after_the_start_names_image_target_format_error_and_message(
    local_run: Callable[..., LocalRun], event_file: Callable[[Any], Path], case: StageFailure
) -> None:
    path = case.event if isinstance(case.event, Path) else event_file(case.event)

    result = local_run(path, prepare=case.prepare, **case.settings)

    assert result.exit_code == 1, result.stderr
    assert (result.output["status"], result.output["error"]) == ("FAILED", case.error)
    outcome = result.output  # the published outcome
    assert (outcome["status"], outcome["stage"], outcome["error"]) == ("FAILED", case.stage, case.error)
    assert (outcome["image_id"], outcome["image_name"], outcome["file_format"]) == (
        case.image_id,
        case.image_name,
        "qcow2",
    )
    assert outcome["bucket_url"].startswith("ims-export-demo:exports/")
    assert case.image_id in outcome["message"]
    # A caught error's cause is structured; a failed job carries IMS's code and reason instead.
    assert isinstance(outcome.get("cause", {}), dict)
    assert "cause" in outcome or outcome["error_code"]
    last = result.stderr.splitlines()[-1]
    assert last.startswith(
        f"export of image {case.image_id} ({case.image_name}) to {outcome['bucket_url']} failed: {case.error}"
    )
    assert_no_secrets(result)
