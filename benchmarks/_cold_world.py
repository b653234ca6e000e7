"""The world a cold-start probe runs in (``benchmarks/cold_start.py``): a loopback server answering IMS
(image, export, job), SSM (the JSON protocol through AWS_ENDPOINT_URL_SSM, and the Parameters and Secrets
extension's local endpoint) and DynamoDB; a loopback UDP sink for the X-Ray daemon; and a deployed
function's environment pointed at them. Anything else (IAM, OBS) is answered 404."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr

from ims_export.auth.codec import encode_record
from ims_export.auth.parameter_store import EXTENSION_PATH
from ims_export.domain.tokens import IssuedToken
from localdev.deployment import local_deployment

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
PROJECT_ID = "0123456789abcdef0123456789abcdef"
IMAGE_ID = "2542e7a1-52a3-4693-bd2a-4efae19ef09f"
JOB_ID = "ff8080814dbd65d7014dbe0d84db0013"
TOKEN_PARAMETER = "/ims-export/token"  # noqa: S105 - a parameter name
CREDENTIALS_PARAMETER = "/ims-export/credentials"
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
