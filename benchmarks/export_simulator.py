"""Simulated IMS export jobs, and a poll loop that runs a wait policy against them in simulated time.

A job spends a setup phase at 0 %, copies the image, then finishes (conversion, upload) at 100 % while
still RUNNING. A ``JobModel`` holds one world's assumptions: how the copy's speed varies (drifts, stalls,
jumps, or one steady speed), how widely speeds differ between jobs, and how ``process_percent`` is
reported (how often, how coarse, how noisy, on the 0-100 or the 0-1 scale, or not at all). Image sizes
follow from the copy time and a per-job speed. Nothing here knows the policy under test.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from typing import Protocol

MIN_DURATION_SECONDS = 120.0
MAX_DURATION_SECONDS = 6 * 3600.0
MAX_IMAGE_BYTES = 1 << 40


@dataclass(frozen=True)
class JobModel:
    """The assumptions behind one world of simulated exports: how speed varies, how progress is reported."""

    name: str
    description: str
    # Setup before any byte moves (snapshot, queueing), and the tail after the copy at 100 %.
    setup_seconds_range: tuple[float, float] = (15.0, 300.0)
    setup_max_share: float = 0.3
    finish_max_share: float = 0.05
    # The copy: a few segments of drifting speed, some of them stalls, some boundaries jumps.
    segment_count_range: tuple[int, int] = (2, 10)
    segment_speed_sigma: float = 0.6
    stall_probability: float = 0.2
    jump_probability: float = 0.15
    jump_share_range: tuple[float, float] = (0.05, 0.4)
    # Export speed per job (bytes/s of reported image size): log-normal; the size IMS reports differs
    # from the bytes exported (format conversion, sparse disks).
    median_speed_bytes_per_second: float = 30e6
    speed_sigma: float = 0.6
    size_report_factor_range: tuple[float, float] = (0.7, 1.3)
    size_unknown_probability: float = 0.05
    # How process_percent is reported: on which scale (100 or 1), how often, how coarse, how noisy.
    percent_available_probability: float = 0.75
    percent_scale: float = 100.0
    refresh_seconds_range: tuple[float, float] = (10.0, 300.0)
    percent_quanta: tuple[float, ...] = (0.01, 1.0, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0)
    max_noise_points: float = 3.0


# The first world: drifting, stalling, jumping copies; stale, noisy, often coarse percent on 0-100.
DRIFTING = JobModel(
    name="drifting",
    description="speed drifts, stalls and jumps; percent 0-100, stale, noisy, often coarse; 25 % silent",
)
# Another world: each copy runs at one steady speed, but speeds differ widely between jobs (fast and
# slow storage, sparse disks); percent comes on the 0-1 scale (the old OTC example's 0.24), fresh and
# fine-grained; a long queue before the copy starts.
STEADY_FRACTION = JobModel(
    name="steady, 0-1 scale",
    description="one steady speed per job, spread widely between jobs; percent on the 0-1 scale, fresh",
    setup_seconds_range=(30.0, 1800.0),
    setup_max_share=0.5,
    segment_count_range=(1, 1),
    segment_speed_sigma=0.0,
    stall_probability=0.0,
    jump_probability=0.0,
    median_speed_bytes_per_second=40e6,
    speed_sigma=0.9,
    size_report_factor_range=(0.5, 1.5),
    percent_available_probability=1.0,
    percent_scale=1.0,
    refresh_seconds_range=(5.0, 30.0),
    percent_quanta=(0.01,),
    max_noise_points=0.0,
)
# A world where jobs tell nothing of their progress (no process_percent, or 0 until done): only the
# image size and the time elapsed inform the wait; copies burst and stall.
SILENT = JobModel(
    name="silent",
    description="no progress reported at all; copies burst and stall; 20 % of sizes unknown",
    segment_count_range=(2, 6),
    segment_speed_sigma=1.2,
    stall_probability=0.35,
    size_unknown_probability=0.2,
    percent_available_probability=0.0,
)
JOB_MODELS = (DRIFTING, STEADY_FRACTION, SILENT)


@dataclass(frozen=True)
class PercentReporting:
    """How one job's ``process_percent`` looks from outside; ``noise`` holds one draw per refresh."""

    available: bool
    scale: float
    refresh_seconds: float
    phase_seconds: float
    quantum: float
    noise: tuple[float, ...]


@dataclass(frozen=True)
class SimulatedExport:
    duration_seconds: float
    image_size_bytes: int | None
    # Piecewise-linear true progress; a repeated time is a jump.
    knot_times: tuple[float, ...]
    knot_percents: tuple[float, ...]
    reporting: PercentReporting

    def true_percent(self, elapsed: float) -> float:
        index = bisect_right(self.knot_times, elapsed) - 1
        if index < 0:
            return 0.0
        if index >= len(self.knot_times) - 1:
            return self.knot_percents[-1]
        start, end = self.knot_times[index], self.knot_times[index + 1]
        low, high = self.knot_percents[index], self.knot_percents[index + 1]
        return low + (high - low) * (elapsed - start) / (end - start)

    def reported_percent(self, elapsed: float) -> float | None:
        """What a job query answers at ``elapsed``: the value of the last refresh, or None."""
        reporting = self.reporting
        if not reporting.available:
            return None
        slot = math.floor((elapsed + reporting.phase_seconds) / reporting.refresh_seconds)
        refreshed_at = max(0.0, slot * reporting.refresh_seconds - reporting.phase_seconds)
        noise = reporting.noise[min(slot, len(reporting.noise) - 1)]
        value = min(100.0, max(0.0, self.true_percent(refreshed_at) + noise))
        return math.floor(value / reporting.quantum) * reporting.quantum * reporting.scale / 100


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _copy_knots(
    rng: random.Random, model: JobModel, start: float, copy_seconds: float
) -> list[tuple[float, float]]:
    """(time, progress share) knots of the copy phase, shares not yet scaled to 100 %."""
    count = rng.randint(*model.segment_count_range)
    lengths = [rng.expovariate(1.0) for _ in range(count)]
    scale = copy_seconds / sum(lengths)
    speeds = [
        0.0 if rng.random() < model.stall_probability else rng.lognormvariate(0.0, model.segment_speed_sigma)
        for _ in range(count)
    ]
    if not any(speeds):
        speeds[rng.randrange(count)] = 1.0
    copied = sum(length * speed for length, speed in zip(lengths, speeds, strict=True))
    knots = [(start, 0.0)]
    time, share = start, 0.0
    for length, speed in zip(lengths, speeds, strict=True):
        if share > 0 and rng.random() < model.jump_probability:
            share += rng.uniform(*model.jump_share_range) * copied
            knots.append((time, share))
        time += length * scale
        share += length * speed
        knots.append((time, share))
    return knots


def generate_export(rng: random.Random, model: JobModel = DRIFTING) -> SimulatedExport:
    duration = _log_uniform(rng, MIN_DURATION_SECONDS, MAX_DURATION_SECONDS)
    setup = min(_log_uniform(rng, *model.setup_seconds_range), model.setup_max_share * duration)
    copy_seconds = duration - setup - rng.uniform(0.0, model.finish_max_share) * duration
    raw = _copy_knots(rng, model, setup, copy_seconds)
    total = raw[-1][1]
    knots = [(0.0, 0.0), *((time, 100.0 * share / total) for time, share in raw)]

    speed = rng.lognormvariate(math.log(model.median_speed_bytes_per_second), model.speed_sigma)
    size = min(speed * copy_seconds * rng.uniform(*model.size_report_factor_range), float(MAX_IMAGE_BYTES))
    image_size = None if rng.random() < model.size_unknown_probability else int(size)

    refresh = _log_uniform(rng, *model.refresh_seconds_range)
    noise_sd = rng.uniform(0.0, model.max_noise_points)
    reporting = PercentReporting(
        available=rng.random() < model.percent_available_probability,
        scale=model.percent_scale,
        refresh_seconds=refresh,
        phase_seconds=rng.uniform(0.0, refresh),
        quantum=rng.choice(model.percent_quanta),
        noise=tuple(rng.gauss(0.0, noise_sd) for _ in range(int(duration / refresh) + 2)),
    )
    return SimulatedExport(
        duration_seconds=duration,
        image_size_bytes=image_size,
        knot_times=tuple(time for time, _ in knots),
        knot_percents=tuple(percent for _, percent in knots),
        reporting=reporting,
    )


def generate_exports(count: int, seed: int, model: JobModel = DRIFTING) -> list[SimulatedExport]:
    rng = random.Random(seed)
    return [generate_export(rng, model) for _ in range(count)]


class WaitPolicy(Protocol):
    """Seconds to wait before the next job query, from what the check step knows."""

    def __call__(
        self,
        *,
        elapsed_seconds: float,
        percent: float | None,
        image_size_bytes: int | None,
    ) -> int: ...


@dataclass(frozen=True)
class PollOutcome:
    polls: int
    detection_delay_seconds: float


def run_poll_loop(
    policy: WaitPolicy, export: SimulatedExport, *, first_wait_seconds: int | None = None
) -> PollOutcome:
    """Wait, query, decide, as the state machine does, until a query sees the job finished.

    The export call returns at time 0; the first wait is ``first_wait_seconds`` if given (the start
    step's fixed wait), else the policy's choice from the image size alone.
    """
    elapsed, polls = 0.0, 0
    percent: float | None = None
    while True:
        if polls == 0 and first_wait_seconds is not None:
            wait = first_wait_seconds
        else:
            wait = policy(
                elapsed_seconds=elapsed,
                percent=percent,
                image_size_bytes=export.image_size_bytes,
            )
        if wait < 1:
            raise ValueError(f"a wait policy returned {wait} s; waits are at least 1 s")
        elapsed += wait
        polls += 1
        if elapsed >= export.duration_seconds:
            return PollOutcome(polls=polls, detection_delay_seconds=elapsed - export.duration_seconds)
        percent = export.reported_percent(elapsed)
