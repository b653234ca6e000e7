"""Cold-start benchmark: import plus first invocation of the start and check handlers, each in a fresh
interpreter, against the same steps written on the vendor SDK (huaweicloudsdkims).

A loopback HTTP server answers both: IMS (image, export, job) and SSM (the JSON protocol, reached through
AWS_ENDPOINT_URL_SSM), which holds a valid token for our handlers and an access key for the SDK's. Tracing
is off for both (X-Ray would need its daemon). The SDK runs from the benchmark virtualenv (.tools/bench,
``make bench`` builds it from benchmarks/requirements.txt); without it, that half is skipped.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from benchmarks._tables import table
from ims_export.token_codec import encode_record
from ims_export.tokens import IssuedToken

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "_cold_probe.py"
VENDOR_APP = Path(__file__).resolve().parent / "_vendor_sdk_app.py"
OUR_PYTHON = sys.executable
BENCH_PYTHON = Path(os.environ.get("BENCH_PYTHON", str(ROOT / ".tools" / "bench" / "bin" / "python")))
REPETITIONS = 7
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
    """Canned IMS answers for both clients, SSM GetParameter, and an always-accepting DynamoDB."""

    ssm: Mapping[str, str] = {}

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def _reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/v2/cloudimages":
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
            name = json.loads(body)["Name"]
            if name in self.ssm:
                parameter = {"Name": name, "Type": "SecureString", "Value": self.ssm[name], "Version": 1}
                self._reply(200, {"Parameter": parameter}, "application/x-amz-json-1.1")
            else:
                self._reply(400, {"__type": "ParameterNotFound"}, "application/x-amz-json-1.1")
        elif self.headers.get("X-Amz-Target", "").startswith("DynamoDB_20120810."):
            # The start step's idempotency records (put, update): conditions always hold, no item exists.
            self._reply(200, {}, "application/x-amz-json-1.0")
        elif urlsplit(self.path).path.endswith("/file"):
            self._reply(200, {"job_id": JOB_ID})
        else:
            self._reply(404, {"error": {"code": "IMG.0001", "message": "not found"}})


@contextmanager
def fake_cloud() -> Iterator[str]:
    handler = type("FakeCloud", (_FakeCloud,), {"ssm": ssm_values()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def handler_environment(endpoint: str) -> dict[str, str]:
    """A deployed function's environment (template.yaml), pointed at the loopback server."""
    keep = {"PATH", "HOME", "LANG", "SYSTEMROOT"}
    environment = {name: value for name, value in os.environ.items() if name in keep}
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "eu-central-1",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_ENDPOINT_URL_SSM": endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "NO_PROXY": "127.0.0.1",
            "IMS_ENDPOINT": endpoint,
            "IAM_ENDPOINT": f"{endpoint}/v3",
            "PROJECT_ID": PROJECT_ID,
            "TOKEN_PARAMETER": TOKEN_PARAMETER,
            "CREDENTIALS_PARAMETER": CREDENTIALS_PARAMETER,
            "IDEMPOTENCY_TABLE": "bench-idempotency",
            "POWERTOOLS_SERVICE_NAME": "ims-export",
            "POWERTOOLS_METRICS_NAMESPACE": "ImsExport",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return environment


@dataclass(frozen=True)
class Probe:
    name: str
    python: Path
    handler_file: Path
    handler_name: str
    sys_path: tuple[str, ...] = ()


def probe_once(probe: Probe, event: Any, environment: dict[str, str], workdir: Path) -> dict[str, Any]:
    event_file, result_file = workdir / "event.json", workdir / "result.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    command = [str(probe.python), str(PROBE), str(probe.handler_file), probe.handler_name]
    command += [str(event_file), str(result_file), *probe.sys_path]
    completed = subprocess.run(  # noqa: S603 - our own interpreters and files
        command, env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{probe.name} failed:\n{completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    return result


@dataclass(frozen=True)
class Timing:
    name: str
    import_ms: float
    invoke_ms: float

    @property
    def total_ms(self) -> float:
        return self.import_ms + self.invoke_ms


def measure(
    probe: Probe, event: Any, environment: dict[str, str], workdir: Path, repetitions: int
) -> tuple[Timing, dict[str, Any]]:
    """Medians over ``repetitions`` fresh interpreters, after one unmeasured run (a warm disk cache)."""
    last = probe_once(probe, event, environment, workdir)
    runs = [probe_once(probe, event, environment, workdir) for _ in range(repetitions)]
    timing = Timing(
        probe.name,
        statistics.median(run["import_ms"] for run in runs),
        statistics.median(run["invoke_ms"] for run in runs),
    )
    return timing, last["result"]


def our_probes() -> tuple[Probe, Probe]:
    layer = str(ROOT / "layers" / "common")
    return (
        Probe(
            "ours: start",
            Path(OUR_PYTHON),
            ROOT / "functions/start_export/app.py",
            "lambda_handler",
            (layer,),
        ),
        Probe(
            "ours: check",
            Path(OUR_PYTHON),
            ROOT / "functions/check_export/app.py",
            "lambda_handler",
            (layer,),
        ),
    )


def vendor_probes() -> tuple[Probe, Probe]:
    return (
        Probe("vendor SDK: start", BENCH_PYTHON, VENDOR_APP, "start_handler"),
        Probe("vendor SDK: check", BENCH_PYTHON, VENDOR_APP, "check_handler"),
    )


def heavy_imports(
    environment: dict[str, str], threshold_ms: float = HEAVY_IMPORT_MS
) -> list[tuple[str, float]]:
    """Packages whose import by the check handler costs more than ``threshold_ms`` each (cumulative)."""
    layer = str(ROOT / "layers" / "common")
    code = "import runpy; runpy.run_path('functions/check_export/app.py')"
    completed = subprocess.run(  # noqa: S603
        [OUR_PYTHON, "-X", "importtime", "-c", code],
        env={**environment, "PYTHONPATH": layer},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    totals: dict[str, float] = {}
    for line in completed.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        module = parts[2].rstrip()
        if module.startswith("  "):
            continue  # only imports made at the top: their cumulative time holds the nested ones'
        package = module.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(parts[1]) / 1000
    return sorted(
        ((name, ms) for name, ms in totals.items() if ms >= threshold_ms), key=lambda item: -item[1]
    )


def render(timings: list[Timing], ratios: list[tuple[str, float]], heavy: list[tuple[str, float]]) -> str:
    rows = [[t.name, f"{t.import_ms:.0f}", f"{t.invoke_ms:.0f}", f"{t.total_ms:.0f}"] for t in timings]
    lines = [table(["handler", "import ms", "first call ms", "total ms"], rows), ""]
    for step, ratio in ratios:
        lines.append(f"{step}: ours / vendor SDK = {ratio:.2f}")
    lines += [
        "",
        "check handler's cold path, top-level imports over "
        f"{HEAVY_IMPORT_MS:g} ms (python -X importtime, cumulative):",
    ]
    lines.append(table(["module", "ms"], [[name, f"{ms:.0f}"] for name, ms in heavy]))
    return "\n".join(lines)


def main(repetitions: int = REPETITIONS) -> int:
    with fake_cloud() as endpoint, tempfile.TemporaryDirectory() as tmp:
        environment = handler_environment(endpoint)
        workdir = Path(tmp)
        start, check = our_probes()
        start_timing, started = measure(start, START_EVENT, environment, workdir, repetitions)
        check_timing, _ = measure(check, started, environment, workdir, repetitions)
        timings = [start_timing, check_timing]
        ratios: list[tuple[str, float]] = []
        if BENCH_PYTHON.exists():
            vendor_start, vendor_check = vendor_probes()
            vendor_start_timing, vendor_started = measure(
                vendor_start, START_EVENT, environment, workdir, repetitions
            )
            vendor_check_timing, _ = measure(vendor_check, vendor_started, environment, workdir, repetitions)
            timings += [vendor_start_timing, vendor_check_timing]
            ratios = [
                ("start", start_timing.total_ms / vendor_start_timing.total_ms),
                ("check", check_timing.total_ms / vendor_check_timing.total_ms),
            ]
        heavy = heavy_imports(environment)
    print(f"median of {repetitions} fresh interpreters each; tracing off; IMS and SSM on a loopback server")
    print(render(timings, ratios, heavy))
    if not ratios:
        print(f"vendor SDK comparison skipped: no benchmark virtualenv at {BENCH_PYTHON} (run `make bench`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
