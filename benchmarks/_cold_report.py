"""The cold-start benchmark's figures (``benchmarks/cold_start.py``): each probe run, the summary of a
variant's runs, the ratios ours / vendor SDK and their targets, and the report."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmarks._import_profile import HEAVY_IMPORT_MS, ImportLine, heavy_imports, import_cost
from benchmarks._tables import table


@dataclass(frozen=True)
class Run:
    import_ms: float
    invoke_ms: float
    peak_rss_mb: float

    @property
    def total_ms(self) -> float:
        return self.import_ms + self.invoke_ms


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    low, median, high = statistics.quantiles(values, n=4, method="inclusive")
    return low, median, high


@dataclass(frozen=True)
class Summary:
    name: str
    bytecode: bool
    import_ms: float
    invoke_ms: float
    total_ms: float
    total_p25_ms: float
    total_p75_ms: float
    total_min_ms: float
    total_max_ms: float
    peak_rss_mb: float

    @classmethod
    def of(cls, name: str, bytecode: bool, runs: Sequence[Run]) -> Summary:
        totals = [run.total_ms for run in runs]
        low, median, high = quartiles(totals)
        return cls(
            name=name,
            bytecode=bytecode,
            import_ms=statistics.median(run.import_ms for run in runs),
            invoke_ms=statistics.median(run.invoke_ms for run in runs),
            total_ms=median,
            total_p25_ms=low,
            total_p75_ms=high,
            total_min_ms=min(totals),
            total_max_ms=max(totals),
            peak_rss_mb=statistics.median(run.peak_rss_mb for run in runs),
        )


def ratios(summaries: Sequence[Summary], bytecode: bool) -> dict[str, float]:
    """Ours / vendor SDK, median total against median total, per step, in one bytecode mode."""
    totals = {summary.name: summary.total_ms for summary in summaries if summary.bytecode == bytecode}
    return {
        step: totals[f"ours: {step}"] / totals[f"vendor SDK: {step}"]
        for step in ("start", "check")
        if f"ours: {step}" in totals and f"vendor SDK: {step}" in totals
    }


# The packages behind the cold-start levers still open, and what brings each onto the cold path.
LEVER_PACKAGES = (
    ("aws_xray_sdk", "X-Ray SDK (Powertools Tracer; holds the botocore it pulls)"),
    ("botocore", "botocore (X-Ray patches, boto3)"),
    ("boto3", "boto3 (token read and writer, duplicate guard)"),
    ("aws_lambda_powertools.utilities.parameters", "Powertools Parameters (token cache)"),
    ("aws_lambda_powertools.utilities.idempotency", "Powertools Idempotency (duplicate guard)"),
    ("ims_export.triggers", "ims_export.triggers (start-only models, via steps.states)"),
    ("ims_export", "ims_export (all its modules)"),
    ("pydantic", "pydantic"),
    ("requests", "requests"),
)


def render(summaries: Sequence[Summary], import_profiles: Mapping[str, list[ImportLine]]) -> str:
    rows = [
        [
            summary.name,
            "yes" if summary.bytecode else "no",
            f"{summary.import_ms:.0f}",
            f"{summary.invoke_ms:.0f}",
            f"{summary.total_ms:.0f}",
            f"{summary.total_p25_ms:.0f}-{summary.total_p75_ms:.0f}",
            f"{summary.total_min_ms:.0f}-{summary.total_max_ms:.0f}",
            f"{summary.peak_rss_mb:.1f}",
        ]
        for summary in summaries
    ]
    header = [
        "handler",
        "bytecode",
        "import ms",
        "first call ms",
        "total ms",
        "p25-p75",
        "min-max",
        "peak RSS MB",
    ]
    lines = [table(header, rows), "(medians; import and first call apart, total per run)", ""]
    for bytecode, label in ((True, "as deployed"), (False, "bytecode excluded from both")):
        for step, ratio in ratios(summaries, bytecode).items():
            lines.append(f"{step}, {label}: ours / vendor SDK = {ratio:.2f}")
    for name, profile in import_profiles.items():
        lines += [
            "",
            f"{name} as deployed: imports of the handler and its first call over {HEAVY_IMPORT_MS:g} ms "
            "(-X importtime, cumulative, one run):",
            table(["module", "ms"], [[module, f"{ms:.0f}"] for module, ms in heavy_imports(profile)]),
        ]
    lines += ["", "import ms of the packages behind the open levers (cumulative, where first imported):"]
    rows = [
        [label, *(f"{import_cost(profile, package):.0f}" for profile in import_profiles.values())]
        for package, label in LEVER_PACKAGES
    ]
    lines.append(table(["package", *import_profiles], rows))
    return "\n".join(lines)


def final_lines(summaries: Sequence[Summary]) -> list[str]:
    deployed, bare = ratios(summaries, True), ratios(summaries, False)
    return [
        f"cold start (ours / vendor SDK, as deployed): start {deployed['start']:.2f}, "
        f"check {deployed['check']:.2f}",
        f"cold start (ours / vendor SDK, bytecode excluded from both): start {bare['start']:.2f}, "
        f"check {bare['check']:.2f}",
    ]


TARGET_AS_DEPLOYED = 0.5
TARGET_WITHOUT_BYTECODE = 0.6


def targets_met(summaries: Sequence[Summary]) -> bool:
    deployed, bare = ratios(summaries, True), ratios(summaries, False)
    return all(ratio <= TARGET_AS_DEPLOYED for ratio in deployed.values()) and all(
        ratio <= TARGET_WITHOUT_BYTECODE for ratio in bare.values()
    )
