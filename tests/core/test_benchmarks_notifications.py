"""The notification benchmark on a small input: its loop is the deployed schedule with waking off, and
notices shorten the delay and the polls as the design says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benchmarks import notifications, polling
from benchmarks.export_simulator import DRIFTING, generate_exports
from ims_export.settings import Settings
from ims_export.steps.job_state import JobState
from ims_export.steps.wake import first_wait

EXPORTS = generate_exports(200, polling.SEED, DRIFTING)


@pytest.fixture(scope="module")
def results() -> dict[str, notifications.Figures]:
    return notifications.simulate(EXPORTS, Settings())


def test_with_waking_off_the_loop_polls_as_the_poll_benchmark(
    results: dict[str, notifications.Figures],
) -> None:
    assert notifications.same_as_the_poll_benchmark(results, EXPORTS, Settings())


def test_delivered_notices_cut_polls_and_delay(results: dict[str, notifications.Figures]) -> None:
    today, delivered = results[notifications.TODAY], results["delivered"]
    assert delivered.mean_polls < today.mean_polls / 3
    assert delivered.delay(0.95) < today.delay(0.95)
    # A duplicate finds its token closed: the same polls and delays as one delivery.
    assert [run.polls for run in results["duplicated"].runs] == [run.polls for run in delivered.runs]


def test_without_notices_the_safety_net_bounds_the_delay(results: dict[str, notifications.Figures]) -> None:
    none = results["none arrive"]
    bound = Settings().wake_max_wait_seconds + notifications.FINALIZE_SECONDS[1]
    assert max(run.delay_seconds for run in none.runs) <= bound


def test_main_reports_every_scenario_and_the_missed_targets(capsys: pytest.CaptureFixture[str]) -> None:
    notifications.main(job_count=50)
    printed = capsys.readouterr().out
    assert [name for name in notifications.SCENARIOS if name not in printed] == []
    assert "targets:" in printed


def test_the_first_wait_is_the_start_step_s() -> None:
    waking = Settings(
        wake_on_obs_notification=True,
        idempotency_table="ims-export-idempotency",
        smn_allowed_topic_urns=("urn:smn:eu-de:0a41aaaabbbbccccddddeeeeffff0000:obs",),
        export_bucket="ims-export-demo",
    )
    job = JobState(
        job_id="job-1",
        image_id="5b4c8f0e-3a1d-4e7b-9c2a-1f6d8e9a0b11",
        image_name="web",
        bucket_url="ims-export-demo:exports/web.qcow2",
        started_at=datetime(2026, 12, 7, tzinfo=UTC),
        deadline=datetime(2026, 12, 9, tzinfo=UTC),
        max_polls_per_execution=2000,
    )
    for settings, wake in ((waking, True), (Settings(), False)):
        assert notifications.first_wait_seconds(settings, wake=wake) == first_wait(job, settings)
