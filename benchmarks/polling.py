"""Poll benchmark: fixed 10 s and 30 s pollers against the adaptive policy, on the same simulated exports,
in every world of export_simulator.JOB_MODELS (each built on other assumptions about speed and progress).

Target for the adaptive policy in every world: at most one eighth of the 30 s poller's mean polls (one
third where jobs report no progress), and completion noticed within max(30 s, 5 % of the job's duration)
for at least 95 % of the jobs (the p95 of delay / that bound is at most 1).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks._tables import table
from benchmarks.export_simulator import (
    JOB_MODELS,
    JobModel,
    SimulatedExport,
    WaitPolicy,
    generate_exports,
    run_poll_loop,
)
from ims_export.domain.jobs import parse_percent
from ims_export.domain.polling import choose_next_wait
from ims_export.settings import Settings

JOB_COUNT = 2000
SEED = 6

# Per poll: WaitBeforePoll + CheckExport (Task) + EvaluateJob (Choice). Per export, whatever the
# policy, the success path of statemachine/export.asl.json with its export claim: ReceiveInput,
# StartExport, IsImageReady, ClaimRecord, StartExport, IsImageReady, RecordJob, RecordOnClaim,
# IsImageReady, VerifyExport, RetireExports, DescribeOutcome, ShouldPublish, PutOutcomeEvent,
# ReadNotificationSettings, ShouldNotifyTopic, RouteOutcome, ExportSucceeded. Left out: a trigger's
# delivery claim (4 more), the optional NotifyTopic, retries, image waits, continue-as-new.
TRANSITIONS_PER_POLL = 3
FIXED_TRANSITIONS = 18

BASELINE = "fixed 30 s"
ADAPTIVE = "adaptive"
TARGET_POLL_RATIO = 1 / 8
TARGET_POLL_RATIO_WITHOUT_PROGRESS = 1 / 3
TARGET_DELAY_FLOOR_SECONDS = 30.0
TARGET_DELAY_FRACTION = 0.05
TARGET_WITHIN_SHARE = 0.95

DURATION_BANDS = ((120.0, 600.0, "2-10 min"), (600.0, 3600.0, "10-60 min"), (3600.0, 21600.0, "1-6 h"))


def fixed_interval(seconds: int) -> WaitPolicy:
    """A poller that waits the same time whatever it is told (the SDKs' and the AWS sample's way)."""

    def wait(*, elapsed_seconds: float, percent: float | None, image_size_bytes: int | None) -> int:
        return seconds

    return wait


def adaptive(settings: Settings) -> WaitPolicy:
    """The deployed policy, fed as the check step feeds it: the raw reading read by ``parse_percent``."""

    def wait(*, elapsed_seconds: float, percent: float | None, image_size_bytes: int | None) -> int:
        return choose_next_wait(
            elapsed_seconds=elapsed_seconds,
            percent=parse_percent(percent),
            image_size_bytes=image_size_bytes,
            min_seconds=settings.poll_min_seconds,
            max_seconds=settings.poll_max_seconds,
        )

    return wait


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value at or above ``share`` of the values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def delay_bound(duration_seconds: float) -> float:
    return max(TARGET_DELAY_FLOOR_SECONDS, TARGET_DELAY_FRACTION * duration_seconds)


@dataclass(frozen=True)
class PolicyReport:
    name: str
    durations: tuple[float, ...]
    polls: tuple[int, ...]
    delays: tuple[float, ...]

    @property
    def transitions(self) -> list[int]:
        return [FIXED_TRANSITIONS + TRANSITIONS_PER_POLL * polls for polls in self.polls]

    @property
    def delay_percents(self) -> list[float]:
        return [100 * delay / duration for delay, duration in zip(self.delays, self.durations, strict=True)]

    @property
    def delay_ratios(self) -> list[float]:
        """Delay / max(30 s, 5 % of duration), per job: at most 1 meets the target."""
        return [
            delay / delay_bound(duration) for delay, duration in zip(self.delays, self.durations, strict=True)
        ]

    @property
    def mean_polls(self) -> float:
        return sum(self.polls) / len(self.polls)

    @property
    def within_share(self) -> float:
        return sum(ratio <= 1 for ratio in self.delay_ratios) / len(self.delays)

    def restricted(self, low: float, high: float) -> PolicyReport:
        kept = [i for i, duration in enumerate(self.durations) if low <= duration < high]
        return PolicyReport(
            name=self.name,
            durations=tuple(self.durations[i] for i in kept),
            polls=tuple(self.polls[i] for i in kept),
            delays=tuple(self.delays[i] for i in kept),
        )


def evaluate(
    name: str,
    policy: WaitPolicy,
    exports: Sequence[SimulatedExport],
    *,
    first_wait_seconds: int | None = None,
) -> PolicyReport:
    outcomes = [run_poll_loop(policy, export, first_wait_seconds=first_wait_seconds) for export in exports]
    return PolicyReport(
        name=name,
        durations=tuple(export.duration_seconds for export in exports),
        polls=tuple(outcome.polls for outcome in outcomes),
        delays=tuple(outcome.detection_delay_seconds for outcome in outcomes),
    )


def compare_policies(exports: Sequence[SimulatedExport], settings: Settings) -> dict[str, PolicyReport]:
    """Every policy on the same exports, keyed by name (the baseline and ADAPTIVE among them)."""
    return {
        "fixed 10 s": evaluate("fixed 10 s", fixed_interval(10), exports),
        BASELINE: evaluate(BASELINE, fixed_interval(30), exports),
        # The start step waits poll_min_seconds before the first check (a job that fails at once
        # is seen early); every later wait is the policy's.
        ADAPTIVE: evaluate(
            ADAPTIVE, adaptive(settings), exports, first_wait_seconds=settings.poll_min_seconds
        ),
    }


def target_poll_ratio(model: JobModel) -> float:
    """One eighth of the 30 s poller's polls; one third where jobs report no progress at all."""
    return (
        TARGET_POLL_RATIO_WITHOUT_PROGRESS if model.percent_available_probability == 0 else TARGET_POLL_RATIO
    )


@dataclass(frozen=True)
class TargetCheck:
    poll_ratio: float
    within_share: float
    p95_delay_ratio: float
    target_poll_ratio: float = TARGET_POLL_RATIO

    @property
    def met(self) -> bool:
        return (
            self.poll_ratio <= self.target_poll_ratio
            and self.within_share >= TARGET_WITHIN_SHARE
            and self.p95_delay_ratio <= 1
        )


def check_target(reports: dict[str, PolicyReport], model: JobModel | None = None) -> TargetCheck:
    ours, baseline = reports[ADAPTIVE], reports[BASELINE]
    return TargetCheck(
        poll_ratio=ours.mean_polls / baseline.mean_polls,
        within_share=ours.within_share,
        p95_delay_ratio=percentile(ours.delay_ratios, 0.95),
        target_poll_ratio=TARGET_POLL_RATIO if model is None else target_poll_ratio(model),
    )


def _summary_rows(reports: dict[str, PolicyReport]) -> list[list[str]]:
    rows = []
    for report in reports.values():
        transitions = report.transitions
        rows.append(
            [
                report.name,
                f"{report.mean_polls:.1f}",
                f"{percentile(report.polls, 0.95):.0f}",
                f"{sum(transitions) / len(transitions):.1f}",
                f"{percentile(transitions, 0.95):.0f}",
                f"{percentile(report.delays, 0.5):.1f}",
                f"{percentile(report.delays, 0.95):.1f}",
                f"{percentile(report.delay_percents, 0.5):.2f}",
                f"{percentile(report.delay_percents, 0.95):.2f}",
                f"{100 * report.within_share:.1f}",
                f"{percentile(report.delay_ratios, 0.95):.2f}",
            ]
        )
    return rows


def _ratio_rows(reports: dict[str, PolicyReport]) -> list[list[str]]:
    baseline = reports[BASELINE]

    def ratio(measure: Callable[[PolicyReport], float], report: PolicyReport) -> str:
        return f"{measure(report) / measure(baseline):.3f}"

    measures: list[Callable[[PolicyReport], float]] = [
        lambda report: report.mean_polls,
        lambda report: sum(report.transitions) / len(report.transitions),
        lambda report: percentile(report.delays, 0.5),
        lambda report: percentile(report.delays, 0.95),
    ]
    return [[report.name, *(ratio(measure, report) for measure in measures)] for report in reports.values()]


def _band_rows(reports: dict[str, PolicyReport]) -> list[list[str]]:
    rows = []
    for low, high, label in DURATION_BANDS:
        banded = {name: report.restricted(low, high) for name, report in reports.items()}
        ours = banded[ADAPTIVE]
        rows.append(
            [
                label,
                str(len(ours.polls)),
                *(f"{report.mean_polls:.1f}" for report in banded.values()),
                f"{100 * ours.within_share:.1f}",
                f"{percentile(ours.delay_ratios, 0.95):.2f}",
            ]
        )
    return rows


def render(reports: dict[str, PolicyReport], check: TargetCheck) -> str:
    summary = table(
        [
            "policy", "polls mean", "polls p95", "transitions mean", "transitions p95",
            "delay median s", "delay p95 s", "delay % median", "delay % p95", "within bound %",
            "p95 delay/bound",
        ],
        _summary_rows(reports),
    )  # fmt: skip
    ratios = table(
        ["vs fixed 30 s", "polls", "transitions", "delay median", "delay p95"], _ratio_rows(reports)
    )
    bands = table(
        [
            "duration",
            "jobs",
            *(f"polls {name}" for name in reports),
            "adaptive within %",
            "adaptive p95 delay/bound",
        ],
        _band_rows(reports),
    )
    bound = f"max({TARGET_DELAY_FLOOR_SECONDS:.0f} s, {100 * TARGET_DELAY_FRACTION:.0f} % of duration)"
    target = "\n".join(
        [
            f"target {'MET' if check.met else 'MISSED'} by the adaptive policy:",
            f"  mean polls / fixed 30 s mean polls: {check.poll_ratio:.3f} "
            f"(<= {check.target_poll_ratio:.3f})",
            f"  jobs noticed within {bound}: {100 * check.within_share:.1f} % "
            f"(>= {100 * TARGET_WITHIN_SHARE:.0f} %)",
            f"  p95 of delay / that bound: {check.p95_delay_ratio:.2f} (<= 1)",
        ]
    )
    return "\n\n".join([summary, ratios, bands, target])


def _world_rows(checks: dict[str, TargetCheck]) -> list[list[str]]:
    return [
        [
            name,
            f"{check.poll_ratio:.3f}",
            f"{check.target_poll_ratio:.3f}",
            f"{100 * check.within_share:.1f}",
            f"{check.p95_delay_ratio:.2f}",
            "met" if check.met else "MISSED",
        ]
        for name, check in checks.items()
    ]


def main(job_count: int = JOB_COUNT, seed: int = SEED) -> int:
    settings = Settings()
    started = time.perf_counter()
    print(
        f"poll benchmark: {job_count} simulated exports per world (seed {seed}), durations log-uniform "
        f"2 min - 6 h; adaptive bounds (Settings defaults): poll_min_seconds={settings.poll_min_seconds}, "
        f"poll_max_seconds={settings.poll_max_seconds}"
    )
    print(
        f"transitions per export = {FIXED_TRANSITIONS} (start to end on the success path) "
        f"+ {TRANSITIONS_PER_POLL} per poll (Wait, Task, Choice); first adaptive wait = poll_min_seconds"
    )
    checks: dict[str, TargetCheck] = {}
    for model in JOB_MODELS:
        exports = generate_exports(job_count, seed, model)
        reports = compare_policies(exports, settings)
        checks[model.name] = check = check_target(reports, model)
        with_percent = sum(export.reporting.available for export in exports)
        with_size = sum(export.image_size_bytes is not None for export in exports)
        print(f"\n--- world: {model.name} ({model.description}) ---")
        print(f"{with_percent} report process_percent, {with_size} have a known image size\n")
        print(render(reports, check))
    print()
    print(
        table(
            ["world", "polls / fixed 30 s", "target <=", "within bound %", "p95 delay/bound", "target"],
            _world_rows(checks),
        )
    )
    print(f"(simulated in {time.perf_counter() - started:.1f} s)")
    return 0 if all(check.met for check in checks.values()) else 1
