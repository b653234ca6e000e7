"""The notification benchmark on a small input: its loop is the deployed schedule with waking off, and
notices shorten the delay and the polls as the design says."""

from __future__ import annotations

import pytest

from benchmarks import notifications, polling
from benchmarks.export_simulator import DRIFTING, generate_exports
from ims_export.settings import Settings

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
