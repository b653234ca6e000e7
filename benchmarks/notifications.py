"""Polls and detection delay with OBS notifications (WAKE_ON_OBS_NOTIFICATION) beside today's policy.

The same simulated exports as ``benchmarks/polling.py`` (the drifting world), each polled by the deployed
adaptive policy; with notifications, every wait can be ended by the notice of the export's object:

- the object is written ``FINALIZE_SECONDS`` (0-20 s, uniform) before IMS reports the job's SUCCESS;
- SMN delivers the notice after a delay (delivered: log-normal, median 1 s; delayed: 5-120 s), twice
  (duplicated: the second finds its token closed and changes nothing), or not at all (lost);
- with waking on, the first wait is long too (``steps.wake.first_wait``); a woken wait is followed by a
  short settle (``NOTICE_SETTLE_SECONDS``) and one check; if IMS does not report SUCCESS yet, the next
  waits are short and plain for a few checks (``steps/wake.py``), as deployed.

The delay counted is from the object's creation to the check that sees SUCCESS. It prints every figure
and target and marks the missed ones; run alone it exits 1 on a miss, and ``make bench`` (a report) still
exits 0, while ``make bench-gate`` fails.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks._tables import table
from benchmarks.export_simulator import DRIFTING, SimulatedExport, WaitPolicy, generate_exports, run_poll_loop
from benchmarks.polling import JOB_COUNT, SEED, adaptive, percentile
from ims_export.settings import Settings
from ims_export.steps.wake import NOTICE_SETTLE_SECONDS, NOTICED_CHECKS, NOTICED_WAIT_SECONDS

FINALIZE_SECONDS = (0.0, 20.0)
WAKE_OVERHEAD_SECONDS = 1.0  # the notification's execution: verify, read the record, send the token
LOST_SHARE = 0.2
TODAY = "today (waking off)"
TARGET_MEAN_POLLS = 2.0
TARGET_P95_DELAY_SECONDS = 30.0

Delivery = Callable[[random.Random], list[float]]  # the delays of a notice's deliveries (none: lost)


def delivered(rng: random.Random) -> list[float]:
    return [rng.lognormvariate(0.0, 1.0)]


def delayed(rng: random.Random) -> list[float]:
    return [rng.uniform(5.0, 120.0)]


def duplicated(rng: random.Random) -> list[float]:
    first = rng.lognormvariate(0.0, 1.0)
    return [first, first + rng.uniform(1.0, 300.0)]


def lost_at(share: float) -> Delivery:
    def deliveries(rng: random.Random) -> list[float]:
        return [] if rng.random() < share else delivered(rng)

    return deliveries


# name: (WAKE_ON_OBS_NOTIFICATION, how the notice is delivered)
SCENARIOS: dict[str, tuple[bool, Delivery | None]] = {
    TODAY: (False, None),
    "delivered": (True, delivered),
    "delayed 5-120 s": (True, delayed),
    "duplicated": (True, duplicated),
    f"lost {LOST_SHARE:.0%}": (True, lost_at(LOST_SHARE)),
    "none arrive": (True, None),
}


@dataclass(frozen=True)
class Run:
    polls: int
    delay_seconds: float  # object created -> the check that saw SUCCESS


def poll_with_notice(
    policy: WaitPolicy,
    export: SimulatedExport,
    notice_at: float | None,
    *,
    settings: Settings,
    wake: bool,
) -> Run:
    """The poll loop as the check step runs it (``steps.wake.next_wait``), with waits an arriving notice
    ends (``notice_at``: when it reaches the endpoint; None: it never does)."""
    object_at = export.duration_seconds - export_finalize(export)
    elapsed, polls, noticed, noticed_at_poll = 0.0, 0, False, 0
    percent: float | None = None
    while True:
        wait = float(first_wait_seconds(settings, wake=wake))
        if polls:
            adaptive_wait = policy(
                elapsed_seconds=elapsed, percent=percent, image_size_bytes=export.image_size_bytes
            )
            if noticed:
                short = polls - noticed_at_poll < NOTICED_CHECKS
                wait = float(min(adaptive_wait, NOTICED_WAIT_SECONDS) if short else adaptive_wait)
            elif wake:
                wait = float(max(adaptive_wait, settings.wake_max_wait_seconds))
            else:
                wait = float(adaptive_wait)
        end = elapsed + wait
        wakeable = wake and not noticed and notice_at is not None
        if wakeable and notice_at is not None and elapsed < notice_at + WAKE_OVERHEAD_SECONDS < end:
            end = notice_at + WAKE_OVERHEAD_SECONDS + NOTICE_SETTLE_SECONDS  # woken, then SettleAfterNotice
            noticed, noticed_at_poll = True, polls + 1
        elapsed = end
        polls += 1
        if elapsed >= export.duration_seconds:
            return Run(polls=polls, delay_seconds=elapsed - object_at)
        percent = export.reported_percent(elapsed)  # raw, as IMS answers: the policy reads it


def first_wait_seconds(settings: Settings, *, wake: bool) -> int:
    """The start step's first wait (``steps.wake.first_wait``): long where a notice is expected (every
    simulated export goes to the wired bucket, long before its deadline)."""
    return (
        max(settings.poll_min_seconds, settings.wake_max_wait_seconds) if wake else settings.poll_min_seconds
    )


def export_finalize(export: SimulatedExport) -> float:
    """Seconds between the object's creation and IMS's SUCCESS: drawn from the export's own seed."""
    low, high = FINALIZE_SECONDS
    return random.Random(f"{export.duration_seconds}/{export.image_size_bytes}").uniform(low, high)


@dataclass(frozen=True)
class Figures:
    name: str
    runs: tuple[Run, ...]

    @property
    def mean_polls(self) -> float:
        return sum(run.polls for run in self.runs) / len(self.runs)

    def delay(self, share: float) -> float:
        return percentile([run.delay_seconds for run in self.runs], share)


def simulate(exports: Sequence[SimulatedExport], settings: Settings, seed: int = SEED) -> dict[str, Figures]:
    policy = adaptive(settings)
    results: dict[str, Figures] = {}
    for name, (wake, delivery) in SCENARIOS.items():
        runs = []
        for index, export in enumerate(exports):
            rng = random.Random(f"{seed}/{index}")  # each export's own draws, the same in every scenario
            object_at = export.duration_seconds - export_finalize(export)
            delays = delivery(rng) if delivery is not None else []
            notice_at = object_at + min(delays) if delays else None
            runs.append(poll_with_notice(policy, export, notice_at, settings=settings, wake=wake))
        results[name] = Figures(name, tuple(runs))
    return results


def same_as_the_poll_benchmark(
    results: dict[str, Figures], exports: Sequence[SimulatedExport], settings: Settings
) -> bool:
    """With waking off, this loop polls exactly as ``benchmarks/polling.py``'s (the deployed schedule)."""
    policy = adaptive(settings)
    polled = [run_poll_loop(policy, e, first_wait_seconds=settings.poll_min_seconds).polls for e in exports]
    return polled == [run.polls for run in results[TODAY].runs]


def missed_targets(results: dict[str, Figures], *, same_schedule: bool) -> list[str]:
    missed = []
    if results["delivered"].mean_polls > TARGET_MEAN_POLLS:
        missed.append(f"mean polls with notifications delivered > {TARGET_MEAN_POLLS:g}")
    if results["delivered"].delay(0.95) > TARGET_P95_DELAY_SECONDS:
        missed.append(f"p95 delay with notifications delivered > {TARGET_P95_DELAY_SECONDS:g} s")
    if not same_schedule:
        missed.append("with waking off, the polls differ from the poll benchmark's")
    return missed


def render(results: dict[str, Figures], missed: list[str], settings: Settings) -> str:
    today = results[TODAY]
    rows = [
        [
            name,
            f"{figures.mean_polls:.2f}",
            f"{figures.mean_polls / today.mean_polls:.3f}",
            f"{figures.delay(0.5):.1f} s",
            f"{figures.delay(0.95):.1f} s",
        ]
        for name, figures in results.items()
    ]
    lines = [
        f"{len(today.runs)} simulated exports (drifting world, seed {SEED}), the deployed adaptive policy; "
        "delay from the object's creation to the check that saw SUCCESS",
        table(["Scenario", "Polls per export (mean)", "vs today", "Delay median", "Delay p95"], rows),
        f"waking on: waits of {settings.wake_max_wait_seconds} s (WAKE_MAX_WAIT_SECONDS, the first too) "
        f"unless a notice ends them, then {NOTICE_SETTLE_SECONDS} s before the check, "
        f"{NOTICED_WAIT_SECONDS} s for {NOTICED_CHECKS} checks after it; the object is "
        f"written {FINALIZE_SECONDS[0]:g}-{FINALIZE_SECONDS[1]:g} s before IMS reports SUCCESS",
        f"targets: mean polls <= {TARGET_MEAN_POLLS:g} and p95 delay <= {TARGET_P95_DELAY_SECONDS:g} s when "
        "notifications are delivered; with waking off, the deployed schedule's polls exactly",
    ]
    lines.extend(f"MISSED: {miss}" for miss in missed)
    if not missed:
        lines.append("all targets met")
    return "\n".join(lines)


def main(job_count: int = JOB_COUNT) -> int:
    exports = generate_exports(job_count, SEED, DRIFTING)
    settings = Settings()
    results = simulate(exports, settings)
    missed = missed_targets(results, same_schedule=same_as_the_poll_benchmark(results, exports, settings))
    print(render(results, missed, settings))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
