"""What the runner says when a run is refused or fails: the export named, one tidy line, values cut."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from localdev.emulator import Control, seed
from localdev.runner.endings import EXIT_FAILED, EXIT_REFUSED
from localdev.runner.targets import EMULATOR_BUCKET
from localdev.runner.text import MAX_LINE_CHARS
from tests.localrun.conftest import ROOT, LocalRun

IMAGE_CREATED = ROOT / "events" / "image-created.json"
# A pattern without a date names every export of an image alike: the second one meets the first.
FIXED_PATTERN = "exports/{image_name}-{image_id}.{format}"
TAKEN_OBJECT = f"exports/app-server-base-{seed.CENTOS_APP_BASE}.qcow2"
TAKEN_URL = f"{EMULATOR_BUCKET}:{TAKEN_OBJECT}"


def test_an_export_refused_at_its_start_names_its_target_in_the_outcome_and_the_last_line(
    local_run: Callable[..., LocalRun],
) -> None:
    def plant_the_object(control: Control) -> None:
        control.obs.plant_object(EMULATOR_BUCKET, TAKEN_OBJECT, size_bytes=1024, age_seconds=86400)

    result = local_run(IMAGE_CREATED, prepare=plant_the_object, EXPORT_OBJECT_PATTERN=FIXED_PATTERN)

    assert result.exit_code == EXIT_FAILED, result.stderr
    assert result.output["error"] == "ObjectAlreadyExistsError"
    outcome = result.output
    assert (outcome["stage"], outcome["image_name"], outcome["bucket_url"], outcome["file_format"]) == (
        "start",
        "app-server-base",
        TAKEN_URL,
        "qcow2",
    )
    last = result.stderr.splitlines()[-1]
    assert last.startswith(
        f"export of image {seed.CENTOS_APP_BASE} (app-server-base) to {TAKEN_URL} failed: "
        "ObjectAlreadyExistsError: The target object exists already (IMG.0070); IMS never overwrites it; "
        "choose another bucket_url"
    ), last
    assert ".;" not in result.stderr


def test_an_input_that_is_no_object_is_a_refusal_that_says_so(
    local_run: Callable[..., LocalRun], event_file: Callable[[Any], Path]
) -> None:
    result = local_run(event_file([]))

    assert result.exit_code == EXIT_REFUSED, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("refused, nothing exported: InvalidRequestError: InputNotAnObject: ")
    assert "is a JSON array, not an object" in last
    assert "failed" not in last and "names the field" not in last


def test_a_huge_image_id_is_cut_on_stderr_as_on_stdout(
    local_run: Callable[..., LocalRun], event_file: Callable[[Any], Path]
) -> None:
    result = local_run(event_file({"image_id": "a" * 50_000}))

    assert result.exit_code == EXIT_REFUSED, result.stderr
    assert "a" * 200 not in result.stderr
    assert all(len(line) <= MAX_LINE_CHARS for line in result.stderr.splitlines())
    assert result.stderr.splitlines()[-1].startswith(
        f"refused, nothing exported for image {'a' * 99}\u2026: "
    )


def test_a_template_parameter_in_the_settings_object_is_refused_naming_its_make_variable(
    local_run: Callable[..., LocalRun],
) -> None:
    result = local_run(IMAGE_CREATED, IMS_EXPORT_SETTINGS='{"EXPORT_BUCKET": "x"}')

    assert result.exit_code == EXIT_REFUSED
    assert result.stderr.splitlines()[-1] == (
        "refused: IMS_EXPORT_SETTINGS cannot set EXPORT_BUCKET, which is the template parameter "
        "ExportBucket: set it as the make variable EXPORT_BUCKET=<value> (make run) or the ExportBucket "
        "parameter (sam deploy)"
    )
    assert (result.output["status"], result.output["stage"]) == ("REFUSED", "run")
