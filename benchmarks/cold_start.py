"""Cold-start benchmark as deployed: import plus first invocation of the start and check handlers, each in a
fresh python3.13 interpreter, loaded from the ``sam build`` output the way Lambda mounts it, against the
same steps written on the vendor SDK (huaweicloudsdkims) deployed the same way.

Every variant gets Lambda's environment (LAMBDA_TASK_ROOT, _HANDLER, AWS_EXECUTION_ENV, a sampled
_X_AMZN_TRACE_ID: tracing is active, as in template.yaml) and its directories (benchmarks/_lambda_mount.py).
A loopback HTTP server answers IMS (image, export, job), SSM (the JSON protocol, through
AWS_ENDPOINT_URL_SSM: the SDK's access key; and as the Parameters and Secrets Lambda Extension's local
endpoint, through PARAMETERS_SECRETS_EXTENSION_HTTP_PORT as template.yaml sets it with
ParametersExtensionLayerArn set: our valid token) and
DynamoDB (for a start that writes its duplicate records itself; ours leaves them to the state machine,
and its start is measured through the call that POSTs: benchmarks/_cold_probe.py); a loopback UDP
socket stands in for the X-Ray daemon (the vendor variant keeps Powertools
Tracer, the conventional setup the targets are measured against). The variants run interleaved, in a
shuffled order each round, so a machine's changing load falls on all of them alike. A second pass runs
every variant with no bytecode in its function and layer (the runtime's boto3 keeps its own, as on
Lambda), so a gain is not only the .pyc.

Needs python3.13 and what ``make bench`` builds (.aws-sam/build, .tools/bench/lambda-py313); without
them it says what is missing and skips.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import _lambda_mount as lambda_mount
from benchmarks._cold_report import (
    TARGET_AS_DEPLOYED,
    TARGET_WITHOUT_BYTECODE,
    Run,
    Summary,
    final_lines,
    render,
    targets_met,
)
from benchmarks._cold_world import START_EVENT, application_environment, fake_cloud, xray_daemon
from benchmarks._import_profile import parse_importtime

PROBE = Path(__file__).resolve().parent / "_cold_probe.py"
VENDOR_APP = Path(__file__).resolve().parent / "_vendor_sdk_app.py"
REPETITIONS = 11
SEED = 14


@dataclass(frozen=True)
class Variant:
    """One handler as deployed: its function directory, its layer, its handler string."""

    side: str  # "ours" or "vendor SDK" (or a version: benchmarks/cold_start_versions.py)
    step: str  # "start" or "check"
    function_dir: Path
    layer_dir: Path
    handler: str

    @property
    def name(self) -> str:
        return f"{self.side}: {self.step}"


def variants(vendor_function_dir: Path) -> list[Variant]:
    build, vendor_layer = lambda_mount.SAM_BUILD, lambda_mount.VENDOR_LAYER
    return [
        Variant("ours", "start", build / "StartExportFunction", build / "CommonLayer", "app.lambda_handler"),
        Variant("ours", "check", build / "CheckExportFunction", build / "CommonLayer", "app.lambda_handler"),
        Variant("vendor SDK", "start", vendor_function_dir, vendor_layer, "app.start_handler"),
        Variant("vendor SDK", "check", vendor_function_dir, vendor_layer, "app.check_handler"),
    ]


def vendor_function(destination: Path) -> Path:
    """The vendor-SDK steps as a function directory (one module, app.py), as SAM would build it."""
    destination.mkdir(parents=True)
    shutil.copy2(VENDOR_APP, destination / "app.py")
    return destination


@dataclass(frozen=True)
class Probe:
    """A variant mounted in one bytecode mode, with the environment Lambda would give it."""

    variant: Variant
    bytecode: bool
    mount: lambda_mount.Mount
    environment: Mapping[str, str]

    @property
    def key(self) -> tuple[str, bool]:
        return (self.variant.name, self.bytecode)


def mount_probes(
    chosen: Sequence[Variant],
    workdir: Path,
    python: Path,
    extra_environment: Mapping[str, str],
    modes: Sequence[bool] = (True, False),
) -> list[Probe]:
    """Every variant in every bytecode mode, each layer copied once per mode."""
    layers: dict[tuple[Path, bool], Path] = {}
    probes = []
    for bytecode in modes:
        for index, variant in enumerate(chosen):
            mode_dir = workdir / ("bytecode" if bytecode else "no-bytecode")
            if (variant.layer_dir, bytecode) not in layers:
                layers[variant.layer_dir, bytecode] = lambda_mount.mount_layer(
                    variant.layer_dir, mode_dir / f"opt-{len(layers)}", bytecode=bytecode, python=python
                )
            task_root = lambda_mount.copy_tree(
                variant.function_dir, mode_dir / f"task-{index}", bytecode=bytecode
            )
            mount = lambda_mount.Mount(
                task_root, layers[variant.layer_dir, bytecode], lambda_mount.RUNTIME_PACKAGES
            )
            function_name = f"bench-{variant.side.replace(' ', '-')}-{variant.step}"
            environment = {
                **lambda_mount.lambda_environment(function_name, variant.handler, task_root),
                **extra_environment,
            }
            probes.append(Probe(variant, bytecode, mount, environment))
    return probes


def probe_once(
    probe: Probe, event: Any, python: Path, workdir: Path, interpreter_flags: Sequence[str] = ()
) -> tuple[dict[str, Any], str]:
    """One fresh interpreter: the probe's figures and answer, and the interpreter's stderr."""
    event_file, result_file = workdir / "event.json", workdir / "result.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    result_file.unlink(missing_ok=True)
    command = [str(python), "-s", *interpreter_flags, str(PROBE), str(event_file), str(result_file)]
    completed = subprocess.run(  # noqa: S603 - our own interpreter and files
        [*command, *probe.mount.sys_path],
        env=dict(probe.environment),
        cwd=probe.mount.task_root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{probe.variant.name} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    return result, completed.stderr


def check_events(probes: Sequence[Probe], python: Path, workdir: Path) -> dict[str, Any]:
    """Each side's check event: what its start step answers (one unmeasured run, which also warms caches)."""
    events: dict[str, Any] = {}
    for probe in probes:
        if probe.variant.step == "start" and probe.variant.side not in events:
            events[probe.variant.side] = probe_once(probe, START_EVENT, python, workdir)[0]["result"]
    return events


def event_for(probe: Probe, events: Mapping[str, Any]) -> Any:
    return START_EVENT if probe.variant.step == "start" else events[probe.variant.side]


def measure_interleaved(
    probes: Sequence[Probe],
    events: Mapping[str, Any],
    python: Path,
    workdir: Path,
    *,
    repetitions: int,
    seed: int,
) -> dict[tuple[str, bool], list[Run]]:
    """``repetitions`` rounds; each runs every probe once, in an order shuffled anew, after one warm-up."""
    rng = random.Random(seed)
    for probe in probes:
        probe_once(probe, event_for(probe, events), python, workdir)
    runs: dict[tuple[str, bool], list[Run]] = {probe.key: [] for probe in probes}
    for _ in range(repetitions):
        order = list(probes)
        rng.shuffle(order)
        for probe in order:
            figures, _ = probe_once(probe, event_for(probe, events), python, workdir)
            runs[probe.key].append(Run(figures["import_ms"], figures["invoke_ms"], figures["peak_rss_mb"]))
    return runs


def missing_prerequisites(python: Path | None) -> list[str]:
    missing = []
    if python is None:
        missing.append("python3.13 (pyenv or PATH)")
    if not (lambda_mount.SAM_BUILD / "CommonLayer" / "python").is_dir():
        missing.append(f"sam build output in {lambda_mount.SAM_BUILD}")
    if not (lambda_mount.VENDOR_LAYER / "python").is_dir() or not lambda_mount.RUNTIME_PACKAGES.is_dir():
        missing.append(f"the vendor-SDK layer and runtime packages in {lambda_mount.LAMBDA_TOOLS}")
    return missing


def runtime_python() -> Path | None:
    """The python3.13 the probes run in (BENCH_RUNTIME_PYTHON, else pyenv's or PATH's); None: missing,
    or something else the probes need is (printed)."""
    configured = os.environ.get("BENCH_RUNTIME_PYTHON")
    python = Path(configured) if configured else lambda_mount.runtime_python()
    missing = missing_prerequisites(python)
    if python is None or missing:
        print(f"cold-start benchmark skipped: missing {'; '.join(missing)} (run `make bench-tools`)")
        return None
    return python


def main(repetitions: int = REPETITIONS, seed: int = SEED) -> int:
    python = runtime_python()
    if python is None:
        return 0
    version = subprocess.run(  # noqa: S603
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    reads: dict[str, int] = {}
    with fake_cloud(reads) as endpoint, xray_daemon() as daemon, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        extra = {**application_environment(endpoint), **lambda_mount.xray_daemon_environment(daemon)}
        chosen = variants(vendor_function(workdir / "vendor-function"))
        probes = mount_probes(chosen, workdir, python, extra)
        events = check_events(probes, python, workdir)
        runs = measure_interleaved(probes, events, python, workdir, repetitions=repetitions, seed=seed)
        summaries = [Summary.of(probe.variant.name, probe.bytecode, runs[probe.key]) for probe in probes]
        profiles = {
            probe.variant.name: parse_importtime(
                probe_once(probe, event_for(probe, events), python, workdir, ("-X", "importtime"))[1]
            )
            for probe in probes
            if probe.bytecode and probe.variant.side == "ours"
        }
    print(
        "as deployed: sam build output mounted as Lambda does (task root, layer at /opt, the runtime's "
        f"boto3), Python {version}, Lambda's environment, tracing active; {repetitions} fresh interpreters "
        f"per variant and mode, interleaved in shuffled order (seed {seed}); IMS, SSM, DynamoDB and X-Ray "
        "on loopback"
    )
    print(
        f"parameter reads: {reads.get('extension', 0)} through the Parameters and Secrets extension (ours), "
        f"{reads.get('api', 0)} through the SSM API (the vendor SDK variant's Powertools Parameters)"
    )
    print(render(summaries, profiles))
    met = targets_met(summaries)
    print(
        f"\ntarget {'MET' if met else 'MISSED'}: ours / vendor SDK <= {TARGET_AS_DEPLOYED} as deployed "
        f"and <= {TARGET_WITHOUT_BYTECODE} with bytecode excluded from both, for both steps"
    )
    for line in final_lines(summaries):
        print(line)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
