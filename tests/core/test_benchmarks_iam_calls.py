"""The IAM benchmark runs on a small input, and its figures follow from the token cache's design."""

from __future__ import annotations

from benchmarks import iam_calls
from ims_export.settings import Settings


def test_small_run_reaches_the_floor_with_ours_and_not_with_the_naive_design() -> None:
    reports = iam_calls.run(count=60, hours=30, seed=3)
    ours, without_refresher, naive = reports
    # Tokens live 24 h: 30 h need 2, and the refresher's 4 h margin still needs 2.
    assert ours.iam_calls == iam_calls.floor_with_refresh_ahead(30) == 2
    assert without_refresher.iam_calls == 2
    assert naive.iam_calls > ours.iam_calls
    assert ours.least_seconds_left_at_use > Settings().token_refresh_margin_seconds
    assert iam_calls.target_met(reports, 30)


def test_trace_respects_the_concurrency_cap_and_marks_cold_starts() -> None:
    trace = iam_calls.build_trace(count=300, hours=6, seed=1, settings=Settings())
    assert trace.peak_running <= iam_calls.MAX_RUNNING
    starts = [inv for inv in trace.invocations if inv.function == "start"]
    assert len(starts) == 300
    assert starts[0].cold
    first_seen: set[int] = set()
    for invocation in trace.invocations:
        assert invocation.cold == (invocation.environment_id not in first_seen)
        first_seen.add(invocation.environment_id)


def test_main_reports_the_target(capsys: object) -> None:
    assert iam_calls.main(count=40, hours=10, seed=2) == 0
