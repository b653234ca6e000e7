"""A local run with WAKE_ON_OBS_NOTIFICATION: the emulator's OBS notifies the exported object through its
SMN to the local SMN endpoint, and the export's wait ends with it; lost, polling sees the end."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pytest

from localdev.obs_notifier import ObsNotifier
from localdev.runner.execution import obs_notifier_for
from localdev.runner.targets import CloudTarget, emulated_cloud
from tests.localrun.conftest import ROOT, LocalRun, assert_no_secrets

pytestmark = pytest.mark.slow

MANUAL = ROOT / "events" / "manual.json"


def closing_line(result: LocalRun) -> str:
    return result.stderr.rstrip().splitlines()[-1]


def test_the_notification_of_the_object_ends_the_export_s_wait(local_run: Callable[..., LocalRun]) -> None:
    result = local_run(MANUAL, WAKE_ON_OBS_NOTIFICATION="true")

    assert result.exit_code == 0, result.stderr[-2000:]
    outcome = result.output
    assert outcome["status"] == "SUCCEEDED"
    assert outcome["noticed"]["key"] == outcome["object"]["key"]
    assert outcome["noticed"]["event_name"] == "ObjectCreated:Put"
    assert re.search(r"OBS notification: \S+ created; it ended the export's wait", result.stderr)
    # The first wait is the one the notice ends, then one check: never an hour's wait.
    assert "noticed by OBS notification after 1 check;" in closing_line(result)
    assert outcome["polls"] == 1
    assert outcome["elapsed_seconds"] < 300
    # The event's time is the object's write (the job's end), not the notification's delivery.
    assert parse(outcome["noticed"]["event_time"]) == parse(outcome["export_finished_at"])
    assert_no_secrets(result)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(microsecond=0)


def test_a_switch_that_cannot_work_for_the_export_is_said_before_the_end(
    local_run: Callable[..., LocalRun],
) -> None:
    result = local_run(MANUAL, WAKE_ON_OBS_NOTIFICATION="true", EXPORT_BUCKET="other-bucket")

    assert result.exit_code == 0, result.stderr[-2000:]
    assert "noticed" not in result.output
    lines = result.stderr.rstrip().splitlines()
    assert lines[-2].startswith("warning: WAKE_ON_OBS_NOTIFICATION is on, but this export waits on the poll")
    assert "is not EXPORT_BUCKET (other-bucket)" in lines[-2]
    assert result.output["warnings"] == [lines[-2].removeprefix("warning: ")]


def test_lost_notifications_without_waking_are_refused(local_run: Callable[..., LocalRun]) -> None:
    result = local_run(MANUAL, options=("--obs-notifications", "lost"))

    assert result.exit_code == 2
    assert "OBS_NOTIFICATIONS=lost" in result.output["message"]
    assert "WAKE_ON_OBS_NOTIFICATION=true" in result.output["message"]
    assert "execution arn:" not in result.stderr


def test_a_lost_notification_falls_back_to_polling(local_run: Callable[..., LocalRun]) -> None:
    result = local_run(MANUAL, options=("--obs-notifications", "lost"), WAKE_ON_OBS_NOTIFICATION="true")

    assert result.exit_code == 0, result.stderr[-2000:]
    outcome = result.output
    assert outcome["status"] == "SUCCEEDED"
    assert "noticed" not in outcome
    assert "lost (OBS_NOTIFICATIONS=lost): polling sees the end" in result.stderr
    assert closing_line(result).startswith("exported ") and " with 1 poll;" in closing_line(result)
    assert outcome["elapsed_seconds"] >= 3600  # the wait ran its course: WAKE_MAX_WAIT_SECONDS


def test_without_the_setting_no_notifier_is_made() -> None:
    with emulated_cloud() as target:
        assert run_notifier(target, {}) is None
        assert run_notifier(target, {"WAKE_ON_OBS_NOTIFICATION": "false"}) is None
        assert isinstance(run_notifier(target, {"WAKE_ON_OBS_NOTIFICATION": "true"}), ObsNotifier)


def run_notifier(target: CloudTarget, settings: dict[str, str]) -> ObsNotifier | None:
    return obs_notifier_for(target, settings, "delivered")


def test_a_fleet_s_exports_are_woken_by_their_notifications(local_run: Callable[..., LocalRun]) -> None:
    result = local_run(ROOT / "events" / "fleet" / "schedule.json", WAKE_ON_OBS_NOTIFICATION="true")

    summary = result.output
    assert summary["exported_count"] >= 1, result.stderr[-2000:]
    delivered = re.findall(r"OBS notification: \S+ created; (.+)", result.stderr)
    # One per exported object (a failed export writes nothing, so notifies nothing), each acted on.
    assert len(delivered) == summary["exported_count"]
    assert all(
        what in ("it ended the export's wait", "no export was waiting for it") for what in delivered
    ), delivered
    assert "it ended the export's wait" in delivered
    # The notifications' own executions are not shown as the fleet's exports.
    assert "UnexpectedChildOutput" not in result.stderr
    assert "delivers no OBS notifications" not in result.stderr
