"""Simulated IMS export jobs, and a poll loop that runs a wait policy against them in simulated time.

A job spends a setup phase at 0 %, copies the image at a speed that drifts, stalls and jumps, then
finishes (conversion, upload) at 100 % while still RUNNING. IMS refreshes ``process_percent`` only
every so often, with noise, sometimes only in coarse steps, and some jobs never report it at all.
Image sizes follow from the copy time and a per-job speed. Nothing here knows the policy under test.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from typing import Protocol

MIN_DURATION_SECONDS = 120.0
MAX_DURATION_SECONDS = 6 * 3600.0

# Setup before any byte moves (snapshot, queueing), and the tail after the copy at 100 %.
SETUP_SECONDS_RANGE = (15.0, 300.0)
SETUP_MAX_SHARE = 0.3
FINISH_MAX_SHARE = 0.05

# The copy: a few segments of drifting speed, some of them stalls, some boundaries jumps.
SEGMENT_COUNT_RANGE = (2, 10)
SEGMENT_SPEED_SIGMA = 0.6
STALL_PROBABILITY = 0.2
JUMP_PROBABILITY = 0.15
JUMP_SHARE_RANGE = (0.05, 0.4)

# Export speed per job (bytes/s of reported image size): log-normal around 30 MB/s; the size IMS
# reports differs from the bytes exported (format conversion, sparse disks).
MEDIAN_SPEED_BYTES_PER_SECOND = 30e6
SPEED_SIGMA = 0.6
SIZE_REPORT_FACTOR_RANGE = (0.7, 1.3)
MAX_IMAGE_BYTES = 1 << 40
SIZE_UNKNOWN_PROBABILITY = 0.05

# How process_percent is reported.
PERCENT_AVAILABLE_PROBABILITY = 0.75
REFRESH_SECONDS_RANGE = (10.0, 300.0)
PERCENT_QUANTA = (0.01, 1.0, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0)
MAX_NOISE_POINTS = 3.0


@dataclass(frozen=True)
class PercentReporting:
    """How one job's ``process_percent`` looks from outside; ``noise`` holds one draw per refresh."""

    available: bool
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
        return math.floor(value / reporting.quantum) * reporting.quantum


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _copy_knots(rng: random.Random, start: float, copy_seconds: float) -> list[tuple[float, float]]:
    """(time, progress share) knots of the copy phase, shares not yet scaled to 100 %."""
    count = rng.randint(*SEGMENT_COUNT_RANGE)
    lengths = [rng.expovariate(1.0) for _ in range(count)]
    scale = copy_seconds / sum(lengths)
    speeds = [
        0.0 if rng.random() < STALL_PROBABILITY else rng.lognormvariate(0.0, SEGMENT_SPEED_SIGMA)
        for _ in range(count)
    ]
    if not any(speeds):
        speeds[rng.randrange(count)] = 1.0
    copied = sum(length * speed for length, speed in zip(lengths, speeds, strict=True))
    knots = [(start, 0.0)]
    time, share = start, 0.0
    for length, speed in zip(lengths, speeds, strict=True):
        if share > 0 and rng.random() < JUMP_PROBABILITY:
            share += rng.uniform(*JUMP_SHARE_RANGE) * copied
            knots.append((time, share))
        time += length * scale
        share += length * speed
        knots.append((time, share))
    return knots


def generate_export(rng: random.Random) -> SimulatedExport:
    duration = _log_uniform(rng, MIN_DURATION_SECONDS, MAX_DURATION_SECONDS)
    setup = min(_log_uniform(rng, *SETUP_SECONDS_RANGE), SETUP_MAX_SHARE * duration)
    copy_seconds = duration - setup - rng.uniform(0.0, FINISH_MAX_SHARE) * duration
    raw = _copy_knots(rng, setup, copy_seconds)
    total = raw[-1][1]
    knots = [(0.0, 0.0), *((time, 100.0 * share / total) for time, share in raw)]

    speed = rng.lognormvariate(math.log(MEDIAN_SPEED_BYTES_PER_SECOND), SPEED_SIGMA)
    size = min(speed * copy_seconds * rng.uniform(*SIZE_REPORT_FACTOR_RANGE), float(MAX_IMAGE_BYTES))
    image_size = None if rng.random() < SIZE_UNKNOWN_PROBABILITY else int(size)

    refresh = _log_uniform(rng, *REFRESH_SECONDS_RANGE)
    noise_sd = rng.uniform(0.0, MAX_NOISE_POINTS)
    reporting = PercentReporting(
        available=rng.random() < PERCENT_AVAILABLE_PROBABILITY,
        refresh_seconds=refresh,
        phase_seconds=rng.uniform(0.0, refresh),
        quantum=rng.choice(PERCENT_QUANTA),
        noise=tuple(rng.gauss(0.0, noise_sd) for _ in range(int(duration / refresh) + 2)),
    )
    return SimulatedExport(
        duration_seconds=duration,
        image_size_bytes=image_size,
        knot_times=tuple(time for time, _ in knots),
        knot_percents=tuple(percent for _, percent in knots),
        reporting=reporting,
    )


def generate_exports(count: int, seed: int) -> list[SimulatedExport]:
    rng = random.Random(seed)
    return [generate_export(rng) for _ in range(count)]


class WaitPolicy(Protocol):
    """Seconds to wait before the next job query, from what the check step knows."""

    def __call__(
        self,
        *,
        elapsed_seconds: float,
        percent: float | None,
        image_size_bytes: int | None,
        polls_so_far: int,
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
                polls_so_far=polls,
            )
        if wait < 1:
            raise ValueError(f"a wait policy returned {wait} s; waits are at least 1 s")
        elapsed += wait
        polls += 1
        if elapsed >= export.duration_seconds:
            return PollOutcome(polls=polls, detection_delay_seconds=elapsed - export.duration_seconds)
        percent = export.reported_percent(elapsed)
