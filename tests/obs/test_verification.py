"""Checking the exported object and retiring older exports, through the local runner: the real export
definition and handlers, the emulator's IMS, IAM securitytokens and OBS."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from localdev.emulator import DEFAULT_BUCKET, Control, Emulator, ManualClock, seed
from localdev.emulator.obs_state import ObsFailure, ObsRoute
from localdev.runner.closing import closing_sentence
from localdev.runner.execution import run_workflow
from localdev.runner.targets import emulator_target
from localdev.stepfunctions import ExecutionResult, LocalWorkflow

pytestmark = pytest.mark.slow

IMAGE = seed.DEBIAN_SMALL
IMAGE_NAME = "debian-12-web"
OTHER_IMAGE = "7f3c1b9e-2d4a-4c6b-9e8f-0a1b2c3d4e5f"
DAY = 86400


@dataclass
class Run:
    result: ExecutionResult
    outcome: dict[str, Any]
    history: list[dict[str, Any]]
    invocations: str  # every Lambda event and result, as JSON
    stderr: str
    emulator: Emulator

    @property
    def states(self) -> list[str]:
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in self.history
            if event["type"].endswith("StateEntered")
        ]

    def objects(self) -> dict[str, int]:
        return {
            item["name"]: item["size_bytes"] for item in self.emulator.control.obs.objects(DEFAULT_BUCKET)
        }


@pytest.fixture
def export_run() -> Iterator[Callable[..., Run]]:
    """``export_run(prepare=None, **template_parameters)``: one export of IMAGE to the default pattern."""
    saved_environ, saved_path = dict(os.environ), list(sys.path)
    emulators: list[Emulator] = []

    def run(prepare: Callable[[Control], object] | None = None, **settings: str) -> Run:
        # The target's pre-flight asks OBS too (tests/obs/test_preflight.py): off, to count these requests.
        settings = {"PREFLIGHT_TARGET": "false", **settings}
        clock = ManualClock(start=time.time())
        emulator = Emulator(clock=clock).__enter__()
        emulators.append(emulator)
        if prepare is not None:
            prepare(emulator.control)
        observed: dict[str, Any] = {}

        def observe(workflow: LocalWorkflow, result: ExecutionResult) -> None:
            observed["history"] = workflow.history(result.arn)
            observed["invocations"] = json.dumps(
                [[item.event, item.result, item.error] for item in workflow.invocations], default=str
            )

        stream = io.StringIO()
        result = run_workflow(
            {"image_id": IMAGE},
            emulator_target(emulator, clock),
            overrides={"ExportBucket": DEFAULT_BUCKET},
            settings=settings,
            stream=stream,
            observe=observe,
        )
        outcome = result.output if result.status == "SUCCEEDED" else json.loads(result.cause or "{}")
        return Run(result, outcome, observed["history"], observed["invocations"], stream.getvalue(), emulator)

    yield run
    for emulator in emulators:
        emulator.__exit__(None, None, None)
    os.environ.clear()
    os.environ.update(saved_environ)
    sys.path[:] = saved_path


def export_name(image_id: str, day: str, image_name: str = IMAGE_NAME) -> str:
    return f"exports/{image_name}-{image_id}-{day}.qcow2"


def test_a_verified_export_reports_the_objects_size_time_and_address(export_run: Callable[..., Run]) -> None:
    run = export_run()

    assert run.result.status == "SUCCEEDED", run.stderr
    exported = run.outcome["object"]
    key = run.outcome["bucket_url"].split(":", 1)[1]
    assert exported["verification"] == "verified"
    assert exported["verification_reason"] is None
    assert (exported["bucket"], exported["key"]) == (DEFAULT_BUCKET, key)
    assert exported["url"] == f"{run.emulator.obs_url}/{DEFAULT_BUCKET}/{key}"
    assert exported["size_bytes"] == run.objects()[key] > 0
    last_modified = datetime.fromisoformat(exported["last_modified"])
    started = datetime.fromisoformat(run.outcome["export_started_at"])
    assert (
        started.replace(microsecond=0)
        <= last_modified
        <= datetime.fromisoformat(run.outcome["export_finished_at"])
    )
    assert run.outcome.get("retention") is None  # RETENTION_COUNT 0 keeps everything
    obs = run.emulator.control.obs
    assert (obs.requests(ObsRoute.HEAD), obs.requests(ObsRoute.LIST), obs.requests(ObsRoute.DELETE)) == (
        1,
        0,
        0,
    )
    # The credentials were narrowed to reading the bucket (no retention asked to delete).
    (credential,) = run.emulator.state.obs.issued_credentials()
    assert credential.allows("obs:object:GetObject", f"obs:*:*:object:{DEFAULT_BUCKET}/{key}")
    assert not credential.allows("obs:object:DeleteObject", f"obs:*:*:object:{DEFAULT_BUCKET}/{key}")
    assert not credential.allows("obs:object:GetObject", "obs:*:*:object:other-bucket/x")
    sentence = closing_sentence(run.result.status, run.outcome)
    assert sentence.endswith(f"; object verified, {exported['size_bytes']} bytes at {exported['url']}")


def test_verification_off_reports_no_object_and_calls_no_obs(export_run: Callable[..., Run]) -> None:
    run = export_run(VERIFY_EXPORTED_OBJECT="false")

    assert run.result.status == "SUCCEEDED"
    assert run.outcome.get("object") is None
    assert run.emulator.control.obs.credentials_issued == 0
    assert run.emulator.control.obs.requests(ObsRoute.HEAD) == 0


@pytest.mark.parametrize(
    ("prepare", "said"),
    [
        (lambda control: control.obs.set_exports(lost=True), "OBS has no object"),
        (lambda control: control.obs.set_exports(backdated_seconds=3600), "before the export began"),
    ],
    ids=["missing", "older-than-the-job"],
)
def test_success_without_a_usable_object_fails_as_export_object_missing(
    export_run: Callable[..., Run], prepare: Callable[[Control], object], said: str
) -> None:
    run = export_run(prepare)

    assert (run.result.status, run.result.error) == ("FAILED", "ExportObjectMissing")
    outcome = run.outcome
    assert (outcome["status"], outcome["stage"], outcome["error"]) == (
        "FAILED",
        "verify",
        "ExportObjectMissing",
    )
    assert outcome["job_status"] == "SUCCESS"
    # The job as the poll that saw SUCCESS left it, not as the poll before.
    assert outcome["percent"] == 100.0
    assert outcome["export_finished_at"] is not None
    message = outcome["cause"]["errorMessage"]
    key = outcome["bucket_url"].split(":", 1)[1]
    for named in (IMAGE, IMAGE_NAME, outcome["bucket_url"], key, said, "export the image again"):
        assert named in message
    # Released like a failed job, so that a new trigger exports again; its own Fail state.
    assert run.states[-3:] == ["ShouldNotifyTopic", "RouteOutcome", "ExportObjectMissing"]
    assert "DescribeOutcome" in run.states  # which also released it


def test_no_permission_for_temporary_credentials_leaves_the_export_succeeded_but_unverified(
    export_run: Callable[..., Run],
) -> None:
    run = export_run(lambda control: control.obs.set_credentials(denied=True), RETENTION_COUNT="2")

    assert run.result.status == "SUCCEEDED"
    exported = run.outcome["object"]
    assert exported["verification"] == "unverified"
    assert "TemporaryCredentialsDeniedError" in exported["verification_reason"]
    assert "may not obtain temporary credentials" in exported["verification_reason"]
    assert exported["size_bytes"] is None
    assert exported["url"].endswith(run.outcome["bucket_url"].replace(":", "/", 1))
    assert run.outcome["retention"]["skipped_reason"] == "the export is not verified"
    assert run.emulator.control.obs.requests(ObsRoute.HEAD) == 0
    assert "object unverified: TemporaryCredentialsDeniedError" in closing_sentence("SUCCEEDED", run.outcome)


def test_a_cloud_that_refuses_the_narrowing_policy_gets_verified_without_it(
    export_run: Callable[..., Run],
) -> None:
    run = export_run(lambda control: control.obs.set_credentials(policy_refused=True))

    assert run.outcome["object"]["verification"] == "verified"
    (credential,) = run.emulator.state.obs.issued_credentials()
    assert credential.statements is None


def test_obs_5xx_then_success_is_retried_in_the_step_and_verified(
    export_run: Callable[..., Run], caplog: pytest.LogCaptureFixture
) -> None:
    def failing_twice(control: Control) -> None:
        control.obs.inject(ObsRoute.HEAD, ObsFailure.INTERNAL_ERROR)
        control.obs.inject(ObsRoute.HEAD, ObsFailure.SERVICE_UNAVAILABLE)

    with caplog.at_level(logging.WARNING, logger="ims_export.steps.obs_access"):
        run = export_run(failing_twice)

    assert run.result.status == "SUCCEEDED"
    assert run.outcome["object"]["verification"] == "verified"
    assert run.emulator.control.obs.requests(ObsRoute.HEAD) == 3
    retries = [record.getMessage() for record in caplog.records if "attempt" in record.getMessage()]
    assert len(retries) == 2
    assert "attempt 1 of 3" in retries[0] and "500" in retries[0]
    assert "attempt 2 of 3" in retries[1] and "503" in retries[1]
    # The steps themselves were not retried by the state machine: the verify step retried its HEAD.
    assert run.states.count("CheckExport") == run.outcome["polls"]
    assert run.states.count("VerifyExport") == 1


def test_obs_failing_on_every_try_leaves_the_export_succeeded_but_unverified(
    export_run: Callable[..., Run],
) -> None:
    run = export_run(
        lambda control: control.obs.inject(ObsRoute.HEAD, ObsFailure.SERVICE_UNAVAILABLE, times=5)
    )

    assert run.result.status == "SUCCEEDED"
    exported = run.outcome["object"]
    assert exported["verification"] == "unverified"
    assert "UpstreamUnavailableError" in exported["verification_reason"]
    assert run.emulator.control.obs.requests(ObsRoute.HEAD) == 3


def plant_history(control: Control, kept: int) -> dict[str, list[str]]:
    """``kept + 2`` older exports of IMAGE (oldest first), and objects retention must never touch."""
    days = [f"202611{day:02d}" for day in range(1, kept + 3)]
    older = [export_name(IMAGE, day) for day in days]
    untouchable = [
        export_name(OTHER_IMAGE, "20261101", "ubuntu-22"),  # another image's export
        export_name(OTHER_IMAGE, "20261102", "ubuntu-22"),
        f"exports/{IMAGE}.qcow2",  # another pattern
        f"exports/{IMAGE_NAME}-{IMAGE}-20261101.qcow2.sha256",
        f"exports/{IMAGE_NAME}-{IMAGE}-latest.qcow2",
        f"backups/{IMAGE_NAME}-{IMAGE}-20261101.qcow2",  # outside the pattern's prefix
    ]
    for age, name in enumerate(reversed(older), start=2):
        control.obs.plant_object(
            DEFAULT_BUCKET, name, size_bytes=1000 + age, age_seconds=age * DAY, image_id=IMAGE
        )
    for name in untouchable:
        control.obs.plant_object(DEFAULT_BUCKET, name, size_bytes=7, age_seconds=30 * DAY)
    return {"older": older, "untouchable": untouchable}


@pytest.mark.parametrize("kept", [1, 3])
def test_retention_keeps_the_newest_n_of_n_plus_3_exports_of_the_image_only(
    export_run: Callable[..., Run], kept: int
) -> None:
    planted: dict[str, list[str]] = {}
    run = export_run(lambda control: planted.update(plant_history(control, kept)), RETENTION_COUNT=str(kept))

    assert run.result.status == "SUCCEEDED", run.stderr
    new_key = run.outcome["object"]["key"]
    older = planted["older"]
    retention = run.outcome["retention"]
    assert retention["deleted"] == older[:3]  # the oldest three, oldest first
    assert (retention["deleted_count"], retention["failed_count"], retention["dry_run"]) == (3, 0, False)
    assert (retention["keep"], retention["prefix"]) == (kept, "exports/")
    remaining = run.objects()
    assert sorted(remaining) == sorted([new_key, *older[3:], *planted["untouchable"]])
    exports_of_the_image = re.compile(rf"exports/{IMAGE_NAME}-{IMAGE}-\d{{8}}\.qcow2")
    assert len([name for name in remaining if exports_of_the_image.fullmatch(name)]) == kept
    # The verify step's credentials may read; only the retire step's may delete.
    verifying, retiring = run.emulator.state.obs.issued_credentials()
    doomed = f"obs:*:*:object:{DEFAULT_BUCKET}/{older[0]}"
    assert not verifying.allows("obs:object:DeleteObject", doomed)
    assert retiring.allows("obs:object:DeleteObject", doomed)
    assert closing_sentence("SUCCEEDED", run.outcome).endswith("; retention deleted 3 older exports")


def test_retention_dry_run_lists_what_would_go_and_deletes_nothing(export_run: Callable[..., Run]) -> None:
    planted: dict[str, list[str]] = {}
    run = export_run(
        lambda control: planted.update(plant_history(control, 2)),
        RETENTION_COUNT="2",
        RETENTION_DRY_RUN="true",
    )

    retention = run.outcome["retention"]
    assert retention["dry_run"] is True
    assert retention["would_delete"] == planted["older"][:3]
    assert (retention["would_delete_count"], retention["deleted"], retention["deleted_count"]) == (3, [], 0)
    assert run.emulator.control.obs.requests(ObsRoute.DELETE) == 0
    assert sorted(run.objects()) == sorted(
        [run.outcome["object"]["key"], *planted["older"], *planted["untouchable"]]
    )
    # Read-only credentials for the verify step and for a dry run.
    credentials = run.emulator.state.obs.issued_credentials()
    assert len(credentials) == 2
    for credential in credentials:
        assert not credential.allows(
            "obs:object:DeleteObject", f"obs:*:*:object:{DEFAULT_BUCKET}/{planted['older'][0]}"
        )


def test_a_failed_deletion_is_reported_and_the_export_still_succeeds(export_run: Callable[..., Run]) -> None:
    planted: dict[str, list[str]] = {}

    def prepare(control: Control) -> None:
        planted.update(plant_history(control, 2))
        control.obs.inject(ObsRoute.DELETE, ObsFailure.SERVICE_UNAVAILABLE, times=3)  # the first one's tries

    run = export_run(prepare, RETENTION_COUNT="2")

    assert run.result.status == "SUCCEEDED"
    retention = run.outcome["retention"]
    assert [failure["key"] for failure in retention["failed"]] == planted["older"][:1]
    assert "503" in retention["failed"][0]["reason"]
    assert retention["deleted"] == planted["older"][1:3]
    assert planted["older"][0] in run.objects()


def test_no_temporary_secret_key_or_security_token_in_any_log_state_or_outcome(
    export_run: Callable[..., Run], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    def prepare(control: Control) -> None:
        plant_history(control, 1)
        control.obs.inject(ObsRoute.HEAD, ObsFailure.INTERNAL_ERROR)  # a logged retry
        control.obs.inject(ObsRoute.DELETE, ObsFailure.SERVICE_UNAVAILABLE, times=3)  # a reported failure

    with caplog.at_level(logging.DEBUG):
        run = export_run(prepare, RETENTION_COUNT="1")

    assert run.outcome["object"]["verification"] == "verified"
    assert run.outcome["retention"]["failed_count"] == 1
    credentials = run.emulator.state.obs.issued_credentials()
    assert credentials
    printed = capsys.readouterr()
    texts = {
        "outcome": json.dumps(run.outcome),
        "history": json.dumps(run.history, default=str),
        "invocations": run.invocations,
        "log records": "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records),
        "function log lines": printed.out + printed.err,
        "progress": run.stderr,
    }
    assert "verified" in texts["history"]  # the state was collected
    for credential in credentials:
        for secret in (credential.secret, credential.security_token, credential.security_token[-48:]):
            leaked = [where for where, text in texts.items() if secret in text]
            assert leaked == []


def test_the_payload_always_carries_object_and_retention(export_run: Callable[..., Run]) -> None:
    run = export_run(VERIFY_EXPORTED_OBJECT="false")

    checked = [
        json.loads(event["stateExitedEventDetails"]["output"])["job"]
        for event in run.history
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "CheckExport"
    ]
    assert checked and all({"object", "retention"} <= set(job) for job in checked)
    assert (run.outcome.get("object"), run.outcome.get("retention")) == (None, None)  # unknown: left out
