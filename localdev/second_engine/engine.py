"""LocalStack as a process on 127.0.0.1: started from its own virtualenv, reached with boto3 clients.

``make second-engine`` installs it in ``.tools/localstack`` (Python 3.13: on 3.12 the package fails at
import). Without internet and without Docker, three settings make it start: a self-signed certificate
(pyOpenSSL 26 can no longer make LocalStack's own), no DNS server, and the launcher's two replacements
(``launch.py``). Lambda needs Docker there, so every Lambda task of a run is answered from a mock
configuration (``SFN_MOCK_CONFIG``, the AWS Step Functions Local format), which this class rewrites.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

from localdev.aws_world import AwsWorld

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "localstack"
PYTHON = TOOLS / "bin" / "python"
LAUNCHER = Path(__file__).with_name("launch.py")
REGION = "eu-central-1"
# LocalStack takes a 12-digit access key id as the account: ARNs then read as in the moto harness.
ACCOUNT_ID = "123456789012"
SERVICES = "stepfunctions,events,sns,sqs,s3,sts,iam,dynamodb"
START_TIMEOUT_SECONDS = 180.0  # a guard against a hang, not a budget: a loaded machine starts it in ~10 s


class SecondEngineUnavailable(RuntimeError):
    """LocalStack is not installed here (no Python 3.13), or did not start; the message says which."""


def installed() -> bool:
    return PYTHON.exists()


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_self_signed_pem(path: Path) -> None:
    """A key and a certificate for localhost in one PEM file, as ``CUSTOM_SSL_CERT_PATH`` takes them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost.localstack.cloud")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    path.write_bytes(key_pem + certificate.public_bytes(serialization.Encoding.PEM))


class SecondEngine:
    """LocalStack running for the duration of a ``with`` block, in ``workdir`` (its log, certificate,
    mock configuration and data)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.mock_config_path = workdir / "mock-config.json"
        self.log_path = workdir / "localstack.log"
        self._mock_config: dict[str, Any] = {"StateMachines": {}, "MockedResponses": {}}
        self._config_version = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SecondEngine:
        if not installed():
            raise SecondEngineUnavailable(
                f"LocalStack is not installed in {TOOLS.relative_to(ROOT)}: `make second-engine` installs it"
                " where Python 3.13 is available"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        certificate = self.workdir / "server.pem"
        write_self_signed_pem(certificate)
        self._write_mock_config()
        self.port = _free_loopback_port()
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "LOCALSTACK_", "PYTHON"))
            and key.lower() not in {"http_proxy", "https_proxy"}
        }
        environment.update(
            {
                "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
                "SERVICES": SERVICES,
                "DNS_ADDRESS": "0",
                "CUSTOM_SSL_CERT_PATH": str(certificate),
                "SFN_MOCK_CONFIG": str(self.mock_config_path),
                "LOCALSTACK_VOLUME_DIR": str(self.workdir / "volume"),
                "DISABLE_EVENTS": "1",  # no usage analytics (no internet here anyway)
                "LS_LOG": "warn",
                "NO_PROXY": "127.0.0.1,localhost",
            }
        )
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and launcher
                [str(PYTHON), str(LAUNCHER)],
                cwd=self.workdir,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise SecondEngineUnavailable(f"LocalStack ended at its start:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException, ValueError):
                health = requests.get(f"{self.endpoint}/_localstack/health", timeout=2).json()
                services = health.get("services", {})
                if all(services.get(name) in {"available", "running"} for name in SERVICES.split(",")):
                    return
            time.sleep(0.2)
        raise SecondEngineUnavailable(
            f"LocalStack did not start within {START_TIMEOUT_SECONDS:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __exit__(self, *_exc: object) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCOUNT_ID,
            aws_secret_access_key="second-engine",  # noqa: S106 - any key: LocalStack checks none
        )

    def add_mock_config(self, config: Mapping[str, Any]) -> None:
        """Merge test cases and answers into the mock configuration (names are the caller's to keep
        apart); executions started from now on see them."""
        for machine, cases in config.get("StateMachines", {}).items():
            entry = self._mock_config["StateMachines"].setdefault(machine, {"TestCases": {}})
            entry["TestCases"].update(cases["TestCases"])
        self._mock_config["MockedResponses"].update(config.get("MockedResponses", {}))
        self._write_mock_config()

    def _write_mock_config(self) -> None:
        # LocalStack reloads the file when its modification time (in whole seconds) changes.
        self._config_version += 1
        self.mock_config_path.write_text(json.dumps(self._mock_config), encoding="utf-8")
        stamp = 1_000_000_000 + self._config_version
        os.utime(self.mock_config_path, (stamp, stamp))


class LocalStackWorld(AwsWorld):
    """A deployment's resources in the running LocalStack; removed again on leaving the ``with`` block,
    so that the next deployment of the same names starts empty."""

    def __init__(self, engine: SecondEngine, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine = engine

    def client(self, service: str) -> Any:
        return self.engine.client(service)

    def __enter__(self) -> LocalStackWorld:
        try:
            self.create_resources()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        # Whatever was never created is not there to remove: each removal may fail on its own.
        for arn in _quietly(self.running_executions) or []:
            _quietly(self.sfn.stop_execution, executionArn=arn)
        sfn, dynamodb, sns, sqs = (self.client(name) for name in ("stepfunctions", "dynamodb", "sns", "sqs"))
        for machine in (self.name, *self.state_machines):
            _quietly(sfn.delete_state_machine, stateMachineArn=self.machine_arn(machine))
        for table in self.tables:
            _quietly(dynamodb.delete_table, TableName=table)
        for bucket in self.buckets:
            _quietly(self._delete_bucket, bucket)
        for bus in self.event_buses:
            _quietly(self._delete_bus, bus)
        for topic in self.topics:
            _quietly(sns.delete_topic, TopicArn=self.topic_arn(topic))
        for queue in (*self._bus_queues.values(), *self._topic_queues.values()):
            _quietly(sqs.delete_queue, QueueUrl=queue)
        _quietly(self.client("iam").delete_role, RoleName=f"{self.name}-role")

    def _delete_bucket(self, bucket: str) -> None:
        s3 = self.client("s3")
        for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=listed["Key"])
        s3.delete_bucket(Bucket=bucket)

    def _delete_bus(self, bus: str) -> None:
        events = self.client("events")
        events.remove_targets(Rule=f"capture-{bus}", EventBusName=bus, Ids=["capture"])
        events.delete_rule(Name=f"capture-{bus}", EventBusName=bus)
        if bus != "default":
            events.delete_event_bus(Name=bus)


def _quietly(action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return action(*args, **kwargs)
    except Exception:
        return None
