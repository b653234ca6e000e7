"""Cold start of this version against an earlier one, as deployed: the start and check handlers of two
``sam build`` outputs, each import plus first call in a fresh python3.13 interpreter (the harness of
``benchmarks/cold_start.py``: Lambda's mount, environment and loopback cloud), interleaved in a shuffled
order so that a machine's changing load falls on both alike. It prints medians, spreads, peak RSS and the
ratio this / earlier per step; a report, it exits 0.

Usage (after ``make bench-tools``, which builds this version)::

    git worktree add --detach ../earlier <commit>
    (cd ../earlier && PATH=<python3.13's directory>:$PATH .tools/sam/bin/sam build --region eu-central-1)
    .venv/bin/python -m benchmarks.cold_start_versions ../earlier/.aws-sam/build

The earlier start is fed the event of this version's harness; its check, what its own start answered.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks import _lambda_mount as lambda_mount
from benchmarks._cold_report import Summary
from benchmarks._cold_world import application_environment, fake_cloud, xray_daemon
from benchmarks._tables import table
from benchmarks.cold_start import (
    SEED,
    Variant,
    check_events,
    measure_interleaved,
    mount_probes,
    runtime_python,
)

REPETITIONS = 21
THIS, EARLIER = "this", "earlier"
STEPS = (("start", "StartExportFunction"), ("check", "CheckExportFunction"))


def version_variants(this_build: Path, earlier_build: Path) -> list[Variant]:
    return [
        Variant(side, step, build / function, build / "CommonLayer", "app.lambda_handler")
        for side, build in ((THIS, this_build), (EARLIER, earlier_build))
        for step, function in STEPS
    ]


def render(summaries: Sequence[Summary]) -> str:
    by_name = {summary.name: summary for summary in summaries}
    rows = [
        [
            summary.name,
            f"{summary.import_ms:.0f}",
            f"{summary.invoke_ms:.0f}",
            f"{summary.total_ms:.0f}",
            f"{summary.total_p25_ms:.0f}-{summary.total_p75_ms:.0f}",
            f"{summary.peak_rss_mb:.1f}",
        ]
        for summary in summaries
    ]
    header = ["handler", "import ms", "first call ms", "total ms", "p25-p75", "peak RSS MB"]
    lines = [table(header, rows), "(medians of the total per run; bytecode as deployed)"]
    for step, _ in STEPS:
        this, earlier = by_name[f"{THIS}: {step}"], by_name[f"{EARLIER}: {step}"]
        lines.append(
            f"{step}: this / earlier = {this.total_ms / earlier.total_ms:.2f} (total), "
            f"peak RSS {this.peak_rss_mb:.1f} / {earlier.peak_rss_mb:.1f} MB"
        )
    return "\n".join(lines)


def main(argv: Sequence[str], repetitions: int = REPETITIONS, seed: int = SEED) -> int:
    if len(argv) != 1 or not (Path(argv[0]) / "CommonLayer" / "python").is_dir():
        print("usage: python -m benchmarks.cold_start_versions EARLIER_SAM_BUILD_DIR (see the module's doc)")
        return 2
    python = runtime_python()
    if python is None:
        return 0
    with fake_cloud() as endpoint, xray_daemon() as daemon, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        extra = {**application_environment(endpoint), **lambda_mount.xray_daemon_environment(daemon)}
        chosen = version_variants(lambda_mount.SAM_BUILD, Path(argv[0]).resolve())
        probes = mount_probes(chosen, workdir, python, extra, modes=(True,))
        events = check_events(probes, python, workdir)
        runs = measure_interleaved(probes, events, python, workdir, repetitions=repetitions, seed=seed)
    summaries = [Summary.of(probe.variant.name, probe.bytecode, runs[probe.key]) for probe in probes]
    print(f"{repetitions} fresh interpreters per handler, interleaved in shuffled order (seed {seed})")
    print(render(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
