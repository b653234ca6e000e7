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
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from benchmarks import _lambda_mount as lambda_mount
from benchmarks._cold_probe import HANDLER_IMPORT_MARKER
from benchmarks._tables import table
from ims_export.auth.codec import encode_record
from ims_export.auth.parameter_store import EXTENSION_PATH
from ims_export.domain.tokens import IssuedToken
from localdev.deployment import local_deployment

PROBE = Path(__file__).resolve().parent / "_cold_probe.py"
VENDOR_APP = Path(__file__).resolve().parent / "_vendor_sdk_app.py"
TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
REPETITIONS = 11
SEED = 14
PROJECT_ID = "0123456789abcdef0123456789abcdef"
IMAGE_ID = "2542e7a1-52a3-4693-bd2a-4efae19ef09f"
JOB_ID = "ff8080814dbd65d7014dbe0d84db0013"
TOKEN_PARAMETER = "/ims-export/token"  # noqa: S105 - a parameter name
CREDENTIALS_PARAMETER = "/ims-export/credentials"
# A heavy import on the cold path is one that takes longer than this (python -X importtime, cumulative).
HEAVY_IMPORT_MS = 25.0
START_EVENT = {
    "event": {"image_id": IMAGE_ID, "bucket_url": "bench-bucket:exports/x.qcow2", "file_format": "qcow2"}
}


def _image() -> dict[str, Any]:
    return {
        "id": IMAGE_ID,
        "name": "bench-image",
        "status": "active",
        "owner": PROJECT_ID,
        "__imagetype": "private",
        "__image_size": str(10 << 30),
        "min_disk": 40,
        "disk_format": "zvhd2",
    }


def _job() -> dict[str, Any]:
    return {
        "job_id": JOB_ID,
        "status": "RUNNING",
        "job_type": "exportImageJob",
        "entities": {"process_percent": 25},
    }


def ssm_values() -> dict[str, str]:
    token = IssuedToken(
        value=SecretStr("bench-token"),
        expires_at=datetime.now(UTC) + timedelta(hours=20),
        project_id=PROJECT_ID,
    )
    return {
        TOKEN_PARAMETER: encode_record(token).value,
        CREDENTIALS_PARAMETER: json.dumps({"access_key": "BENCHAK", "secret_key": "bench-sk"}),
    }


class _FakeCloud(BaseHTTPRequestHandler):
    """Canned IMS answers for both clients, SSM GetParameter (the API and the Parameters and Secrets
    extension's endpoint), and an always-accepting DynamoDB. Counts the reads of each path."""

    ssm: Mapping[str, str] = {}
    reads: dict[str, int] = {}

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def _reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _parameter(self, name: str, via: str) -> dict[str, Any] | None:
        self.reads[via] = self.reads.get(via, 0) + 1
        if name not in self.ssm:
            return None
        return {"Name": name, "Type": "SecureString", "Value": self.ssm[name], "Version": 1}

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        if path == EXTENSION_PATH:
            name = parse_qs(url.query).get("name", [""])[0]
            parameter = self._parameter(name, "extension")
            if parameter is None:
                self._reply(400, {"__type": "ParameterNotFound"})
            else:
                self._reply(200, {"Parameter": parameter, "ResultMetadata": {}})
        elif path == "/v2/cloudimages":
            self._reply(200, {"images": [_image()]})
        elif path.startswith("/v2/images/"):
            self._reply(200, _image())
        elif path.startswith("/v1/cloudimages/job/") or "/jobs/" in path:
            self._reply(200, _job())
        else:
            self._reply(404, {"error": {"code": "IMG.0001", "message": "not found"}})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("X-Amz-Target") == "AmazonSSM.GetParameter":
            parameter = self._parameter(json.loads(body)["Name"], "api")
            if parameter is not None:
                self._reply(200, {"Parameter": parameter}, "application/x-amz-json-1.1")
            else:
                self._reply(400, {"__type": "ParameterNotFound"}, "application/x-amz-json-1.1")
        elif self.headers.get("X-Amz-Target", "").startswith("DynamoDB_20120810."):
            # Idempotency records written by a step itself (put, update): conditions hold, no item exists.
            self._reply(200, {}, "application/x-amz-json-1.0")
        elif urlsplit(self.path).path.endswith("/file"):
            self._reply(200, {"job_id": JOB_ID})
        else:
            self._reply(404, {"error": {"code": "IMG.0001", "message": "not found"}})


@contextmanager
def fake_cloud(reads: dict[str, int] | None = None) -> Iterator[str]:
    """The server's base URL; ``reads`` (if given) counts parameter reads by path: extension, api."""
    handler = type("FakeCloud", (_FakeCloud,), {"ssm": ssm_values(), "reads": {} if reads is None else reads})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def xray_daemon() -> Iterator[str]:
    """A loopback UDP socket that takes the X-Ray SDK's segments and drops them."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.2)
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                sink.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sink.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        sink.close()


def application_environment(endpoint: str) -> dict[str, str]:
    """A deployed function's own variables (template.yaml, resolved as the local runner does), pointed at
    the loopback server."""
    return {
        **local_deployment(TEMPLATE).environment,
        # template.yaml attaches the Parameters and Secrets extension and sets its port
        # (ParametersExtensionLayerArn set: the deployment this benchmark measures).
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(urlsplit(endpoint).port),
        "AWS_ENDPOINT_URL_SSM": endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "NO_PROXY": "127.0.0.1",
        "IMS_ENDPOINT": endpoint,
        "IAM_ENDPOINT": f"{endpoint}/v3",
        "PROJECT_ID": PROJECT_ID,
        "TOKEN_PARAMETER": TOKEN_PARAMETER,
        "CREDENTIALS_PARAMETER": CREDENTIALS_PARAMETER,
        "IDEMPOTENCY_TABLE": "bench-idempotency",
    }


@dataclass(frozen=True)
class Variant:
    """One handler as deployed: its function directory, its layer, its handler string."""

    side: str  # "ours" or "vendor SDK"
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


@dataclass(frozen=True)
class Run:
    import_ms: float
    invoke_ms: float
    peak_rss_mb: float

    @property
    def total_ms(self) -> float:
        return self.import_ms + self.invoke_ms


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


@dataclass(frozen=True)
class ImportLine:
    module: str
    depth: int
    cumulative_ms: float
    ancestors: tuple[str, ...]


def parse_importtime(stderr: str) -> list[ImportLine]:
    """The handler's imports and its first call's, from ``python -X importtime`` output of the probe.

    Lines after the probe's marker only (Lambda's bootstrap has imported json, os and the like before).
    The handler's module is imported by importlib, which importtime does not list, so its own imports are
    at depth 0. Importtime prints a module after those it imports; read backwards, parents come first.
    """
    _, _, after = stderr.partition(HANDLER_IMPORT_MARKER)
    raw = []
    for line in after.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        raw.append((name.strip(), (len(name) - len(name.lstrip()) - 1) // 2, int(parts[1]) / 1000))
    lines: list[ImportLine] = []
    stack: list[str] = []
    for module, depth, cumulative_ms in reversed(raw):
        del stack[depth:]
        lines.append(ImportLine(module, depth, cumulative_ms, tuple(stack)))
        stack.append(module)
    return lines[::-1]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def heavy_imports(
    lines: Sequence[ImportLine], threshold_ms: float = HEAVY_IMPORT_MS
) -> list[tuple[str, float]]:
    """What the handler or its first call imports directly, at ``threshold_ms`` or more, largest first."""
    heavy = [(line.module, line.cumulative_ms) for line in lines if line.depth == 0]
    return sorted((item for item in heavy if item[1] >= threshold_ms), key=lambda item: -item[1])


def import_cost(lines: Sequence[ImportLine], package: str) -> float:
    """Cumulative ms of ``package`` and its modules wherever first imported, each counted once."""
    return sum(
        line.cumulative_ms
        for line in lines
        if _within(line.module, package) and not any(_within(parent, package) for parent in line.ancestors)
    )


# The packages behind the levers still open (issue 14's list), and what brings each onto the cold path.
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


def missing_prerequisites(python: Path | None) -> list[str]:
    missing = []
    if python is None:
        missing.append("python3.13 (pyenv or PATH)")
    if not (lambda_mount.SAM_BUILD / "CommonLayer" / "python").is_dir():
        missing.append(f"sam build output in {lambda_mount.SAM_BUILD}")
    if not (lambda_mount.VENDOR_LAYER / "python").is_dir() or not lambda_mount.RUNTIME_PACKAGES.is_dir():
        missing.append(f"the vendor-SDK layer and runtime packages in {lambda_mount.LAMBDA_TOOLS}")
    return missing


def main(repetitions: int = REPETITIONS, seed: int = SEED) -> int:
    configured = os.environ.get("BENCH_RUNTIME_PYTHON")
    python = Path(configured) if configured else lambda_mount.runtime_python()
    missing = missing_prerequisites(python)
    if python is None or missing:
        print(f"cold-start benchmark skipped: missing {'; '.join(missing)} (run `make bench`)")
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
