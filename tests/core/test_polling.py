"""The adaptive poll policy: bounds, input handling, shape, and its target on simulated exports."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import polling as poll_benchmark
from benchmarks.export_simulator import (
    DRIFTING,
    JOB_MODELS,
    SILENT,
    STEADY_FRACTION,
    JobModel,
    SimulatedExport,
    generate_exports,
    run_poll_loop,
)
from ims_export.domain.jobs import parse_percent
from ims_export.domain.polling import (
    DELAY_FLOOR_SECONDS,
    FASTEST_EXPORT_BYTES_PER_SECOND,
    choose_next_wait,
    detection_tolerance,
)
from ims_export.errors import ConfigurationError
from ims_export.settings import Settings

Exports = list[SimulatedExport]
World = tuple[JobModel, Exports]

GIB = 1 << 30

wait_with_defaults = partial(choose_next_wait, min_seconds=15, max_seconds=600)

garbage_percents = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.booleans(),
    st.text(max_size=8),
    st.sampled_from(["37.5", "", " ", "nan", "1e400", "-3"]),
)
garbage_sizes = st.one_of(
    st.none(), st.integers(min_value=-(10**30), max_value=10**30), st.booleans(), st.floats(allow_nan=True)
)


@st.composite
def poll_bounds(draw: st.DrawFn) -> tuple[int, int]:
    low = draw(st.integers(min_value=1, max_value=3600))
    return low, draw(st.integers(min_value=low, max_value=86400))


# No per-example deadline: a wall-clock budget fails on a loaded machine, not on a wrong wait.
@settings(deadline=None)
@given(
    elapsed=st.floats(allow_nan=True, allow_infinity=True),
    percent=garbage_percents,
    size=garbage_sizes,
    polls=st.integers(min_value=0, max_value=10**6),
    bounds=poll_bounds(),
)
def test_the_wait_is_always_an_int_within_the_bounds(
    elapsed: float, percent: float | None, size: int | None, polls: int, bounds: tuple[int, int]
) -> None:
    low, high = bounds
    wait = choose_next_wait(
        elapsed_seconds=elapsed,
        percent=percent,
        image_size_bytes=size,
        min_seconds=low,
        max_seconds=high,
    )
    assert type(wait) is int
    assert low <= wait <= high


@settings(deadline=None)
@given(
    elapsed=st.floats(min_value=0, max_value=10**6),
    percent=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
    size=st.one_of(st.none(), st.integers(min_value=1, max_value=2 << 40)),
    polls=st.integers(min_value=0, max_value=1000),
)
def test_the_same_inputs_give_the_same_wait_whatever_the_poll_count(
    elapsed: float, percent: float | None, size: int | None, polls: int
) -> None:
    first = wait_with_defaults(elapsed_seconds=elapsed, percent=percent, image_size_bytes=size)
    again = choose_next_wait(
        elapsed_seconds=elapsed,
        percent=percent,
        image_size_bytes=size,
        min_seconds=15,
        max_seconds=600,
    )
    assert first == again


@settings(deadline=None)
@given(
    earlier=st.floats(min_value=0, max_value=10**6),
    later=st.floats(min_value=0, max_value=10**6),
    percent=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
)
def test_without_an_image_size_a_longer_running_job_never_waits_less(
    earlier: float, later: float, percent: float | None
) -> None:
    earlier, later = sorted((earlier, later))
    assert wait_with_defaults(elapsed_seconds=earlier, percent=percent, image_size_bytes=None) <= (
        wait_with_defaults(elapsed_seconds=later, percent=percent, image_size_bytes=None)
    )


@pytest.mark.parametrize(("low", "high"), [(0, 600), (-5, 600), (600, 599)])
def test_impossible_bounds_are_a_configuration_error(low: int, high: int) -> None:
    with pytest.raises(ConfigurationError, match="poll bounds"):
        choose_next_wait(
            elapsed_seconds=60,
            percent=None,
            image_size_bytes=None,
            min_seconds=low,
            max_seconds=high,
        )


def test_a_job_near_completion_is_polled_sooner_than_one_just_started() -> None:
    def wait(percent: float) -> int:
        return wait_with_defaults(elapsed_seconds=1800, percent=percent, image_size_bytes=50 * GIB)

    assert wait(95.3) < wait(37.4) < wait(3.7)


def test_without_size_or_progress_the_wait_is_the_tolerance_of_the_time_elapsed() -> None:
    assert wait_with_defaults(elapsed_seconds=0, percent=None, image_size_bytes=None) == DELAY_FLOOR_SECONDS
    assert wait_with_defaults(elapsed_seconds=4000, percent=None, image_size_bytes=None) == math.floor(
        detection_tolerance(4000)
    )
    assert wait_with_defaults(elapsed_seconds=10 * 3600, percent=None, image_size_bytes=None) == 600


def test_a_large_image_is_not_polled_before_its_copy_can_have_finished() -> None:
    size = 60 * GIB
    earliest_end = size / FASTEST_EXPORT_BYTES_PER_SECOND
    wait = wait_with_defaults(elapsed_seconds=0, percent=None, image_size_bytes=size)
    assert wait == math.floor(earliest_end + detection_tolerance(earliest_end))
    # Once that time has passed, the size no longer says anything.
    assert wait_with_defaults(elapsed_seconds=earliest_end + 1, percent=None, image_size_bytes=size) == (
        wait_with_defaults(elapsed_seconds=earliest_end + 1, percent=None, image_size_bytes=None)
    )


@pytest.mark.parametrize(
    "unusable",
    [None, 0, 0.0, -5, math.nan, math.inf, -math.inf, "", "abc", "nan", True, False, [50], {"p": 1}],
)
def test_unusable_percent_values_count_as_unknown(unusable: Any) -> None:
    for elapsed in (0, 300, 3000):
        assert wait_with_defaults(elapsed_seconds=elapsed, percent=unusable, image_size_bytes=200 * GIB) == (
            wait_with_defaults(elapsed_seconds=elapsed, percent=None, image_size_bytes=200 * GIB)
        )


def test_percent_values_above_100_count_as_done() -> None:
    def wait(percent: Any) -> int:
        return wait_with_defaults(elapsed_seconds=2000, percent=percent, image_size_bytes=500 * GIB)

    assert wait(150) == wait(100) == wait(100.0)


def test_the_scale_is_settled_once_where_the_job_is_read() -> None:
    def wait(percent: float | None) -> int:
        return wait_with_defaults(elapsed_seconds=8000, percent=percent, image_size_bytes=500 * GIB)

    # 0.99 on the 0-1 scale is nearly done: read as 99 %, it is polled as soon as 99 % would be.
    assert wait(parse_percent(0.99)) == wait(99) < wait(37.4)
    assert wait(parse_percent("0.24")) == wait(24)
    # The policy takes a percentage as it is: 0.99 % stays 0.99 %, never scaled a second time.
    assert wait(parse_percent("0.99%")) == wait(0.99) > wait(99)


def test_a_finished_copy_or_a_coarse_50_is_polled_at_the_tolerance() -> None:
    tolerance = math.floor(detection_tolerance(3000))
    for reading in (100, 50, 75):
        assert (
            wait_with_defaults(elapsed_seconds=3000, percent=reading, image_size_bytes=200 * GIB) == tolerance
        )
    # A fine reading may lag (stale refresh, noise, a jump since): 86.2 may already be 100.
    assert wait_with_defaults(elapsed_seconds=3000, percent=86.2, image_size_bytes=200 * GIB) == tolerance
    # A fine-grained reading just past half-way still says a lot is left to copy.
    assert wait_with_defaults(elapsed_seconds=3000, percent=51.3, image_size_bytes=200 * GIB) > tolerance
    # A finished copy overrides the size's earliest plausible end (the export was faster than that).
    assert wait_with_defaults(elapsed_seconds=600, percent=100, image_size_bytes=200 * GIB) == (
        math.floor(detection_tolerance(600))
    )


@pytest.mark.parametrize("unusable", [0, -1, True, 10**30, 12.5])
def test_unusable_sizes_count_as_unknown(unusable: Any) -> None:
    assert wait_with_defaults(elapsed_seconds=0, percent=None, image_size_bytes=unusable) == (
        wait_with_defaults(elapsed_seconds=0, percent=None, image_size_bytes=None)
    )


def test_the_bounds_override_the_policy() -> None:
    assert (
        choose_next_wait(
            elapsed_seconds=0,
            percent=None,
            image_size_bytes=None,
            min_seconds=90,
            max_seconds=600,
        )
        == 90
    )
    assert (
        choose_next_wait(
            elapsed_seconds=0,
            percent=None,
            image_size_bytes=900 * GIB,
            min_seconds=5,
            max_seconds=60,
        )
        == 60
    )


# --- behaviour on simulated exports (simulated time: nothing sleeps) --------------------------------


@pytest.fixture(scope="module")
def simulated_exports() -> Exports:
    return generate_exports(400, seed=11)


@pytest.fixture(scope="module", params=JOB_MODELS, ids=lambda model: model.name)
def world(request: pytest.FixtureRequest) -> World:
    return request.param, generate_exports(400, seed=11, model=request.param)


def test_completion_is_noticed_within_the_bound_in_every_world(
    world: tuple[JobModel, list[SimulatedExport]],
) -> None:
    model, exports = world
    check = poll_benchmark.check_target(poll_benchmark.compare_policies(exports, Settings()), model)
    assert check.within_share >= poll_benchmark.TARGET_WITHIN_SHARE
    assert check.p95_delay_ratio <= 1


def test_the_poll_count_target_holds_where_it_is_met_today(
    world: tuple[JobModel, list[SimulatedExport]],
) -> None:
    model, exports = world
    check = poll_benchmark.check_target(poll_benchmark.compare_policies(exports, Settings()), model)
    if model is DRIFTING:
        # Misses 1/8 (about 0.15, see docs/performance.md); guard against sliding back past 1/5.
        assert check.poll_ratio <= 0.2
    else:
        assert check.poll_ratio <= poll_benchmark.target_poll_ratio(model)
        assert check.met


def test_the_target_for_jobs_without_progress_is_one_third() -> None:
    assert poll_benchmark.target_poll_ratio(SILENT) == pytest.approx(1 / 3)
    assert poll_benchmark.target_poll_ratio(DRIFTING) == pytest.approx(1 / 8)
    assert poll_benchmark.target_poll_ratio(STEADY_FRACTION) == pytest.approx(1 / 8)


def test_each_world_reports_progress_its_own_way() -> None:
    silent = generate_exports(50, seed=3, model=SILENT)
    assert all(export.reported_percent(export.duration_seconds / 2) is None for export in silent)
    fractions = generate_exports(50, seed=3, model=STEADY_FRACTION)
    late = [export.reported_percent(0.97 * export.duration_seconds) for export in fractions]
    assert all(value is not None and 0 <= value <= 1 for value in late)
    assert max(value for value in late if value is not None) > 0.5
    # One steady speed: no stall, no jump: the start, the end of setup, the end of the copy.
    assert all(len(export.knot_times) == 3 for export in fractions)


def test_the_fixed_poller_is_simulated_exactly(simulated_exports: Exports) -> None:
    poller = poll_benchmark.fixed_interval(30)
    for export in simulated_exports:
        outcome = run_poll_loop(poller, export)
        assert outcome.polls == math.ceil(export.duration_seconds / 30)
        assert 0 <= outcome.detection_delay_seconds < 30


def test_simulated_progress_is_bounded_and_complete_before_the_job_ends(
    simulated_exports: list[SimulatedExport],
) -> None:
    for export in simulated_exports[:50]:
        duration = export.duration_seconds
        samples = [export.true_percent(duration * step / 100) for step in range(101)]
        assert samples == sorted(samples)
        assert samples[-1] == pytest.approx(100)
        for step in range(0, 100, 7):
            reported = export.reported_percent(duration * step / 100)
            assert reported is None or 0 <= reported <= 100
        if not export.reporting.available:
            assert export.reported_percent(duration / 2) is None


def test_a_wait_below_one_second_stops_the_simulation(simulated_exports: Exports) -> None:
    with pytest.raises(ValueError, match="at least 1 s"):
        run_poll_loop(poll_benchmark.fixed_interval(0), simulated_exports[0])


def test_the_benchmark_prints_every_figure_and_reports_the_target(capsys: pytest.CaptureFixture[str]) -> None:
    returned = poll_benchmark.main(job_count=200, seed=11)
    printed = capsys.readouterr().out
    for model in JOB_MODELS:
        assert f"world: {model.name}" in printed
    for heading in (
        "polls mean",
        "polls p95",
        "transitions mean",
        "delay median s",
        "delay p95 s",
        "delay % p95",
    ):
        assert heading in printed
    verdicts = [
        line.split()[-1]
        for line in printed.splitlines()
        if line.startswith(tuple(m.name for m in JOB_MODELS))
    ]
    assert len(verdicts) == len(JOB_MODELS)
    assert returned == (0 if all(verdict == "met" for verdict in verdicts) else 1)


def test_the_benchmark_runner_finds_the_poll_benchmark() -> None:
    from benchmarks.__main__ import benchmark_entry_points

    assert "polling" in [name for name, _ in benchmark_entry_points()]
