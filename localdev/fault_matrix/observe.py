"""One row of the fault matrix run: the whole workflow against a fresh emulator with the row's fault
injected, and what it ended with."""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from unittest import mock

from localdev.fault_matrix.cases import HTTP_TIMEOUT_SECONDS, WRONG_PASSWORD, Action, FaultCase, Outcome
from localdev.runner.execution import run_workflow
from localdev.runner.layout import DEFAULT_EVENT
from localdev.runner.targets import EMULATOR_BUCKET, CloudTarget, emulated_cloud

if TYPE_CHECKING:
    from localdev.deployment import LocalDeployment
    from localdev.emulator import Control

# Where the IMS endpoint derived from cloud and region (eu-de on OTC) is routed to the emulator.
DERIVED_IMS_ENDPOINT = "https://ims.eu-de.otc.t-systems.com"
SSM_THROTTLING = "ThrottlingException"
RUN_TIMEOUT_SECONDS = 600.0  # a hang guard, not a budget: a loaded machine is slow


@dataclass
class Observation:
    case: FaultCase
    outcome: Outcome
    cause: str | None = None
    log: str = field(default="", repr=False)

    @property
    def as_expected(self) -> bool:
        return self.outcome == self.case.expected


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _on_first_wait(target: CloudTarget, action: Action, control: Control) -> CloudTarget:
    """``target`` whose first Wait (after the start step) also runs ``action``."""
    done: list[bool] = []

    def on_wait(seconds: float) -> object:
        if not done:
            done.append(True)
            action(control)
        return target.on_wait(seconds)

    return replace(target, on_wait=on_wait)


def _seed_token_cache(value: str) -> Callable[[LocalDeployment], None]:
    def seed(deployment: LocalDeployment) -> None:
        import boto3

        boto3.client("ssm").put_parameter(
            Name=deployment.environment["TOKEN_PARAMETER"], Value=value, Type="SecureString", Overwrite=True
        )

    return seed


def _closed_loopback_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _routing_derived_endpoint(emulator_url: str) -> Any:
    """Patch the sessions the clients get so that the derived IMS endpoint reaches the emulator."""
    import requests

    from ims_export.cloud import http

    class ToEmulator(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            request.url = emulator_url + str(request.url)[len(DERIVED_IMS_ENDPOINT) :]
            return super().send(request, *args, **kwargs)

    original = http.new_session

    def new_session() -> requests.Session:
        session = original()
        session.mount(DERIVED_IMS_ENDPOINT, ToEmulator())
        return session

    return mock.patch.object(http, "new_session", new_session)


def _throttling_ssm_once(parameter_variable: str) -> Any:
    """Patch SSM reads so that the first read of the parameter named by ``parameter_variable`` is
    throttled, as SSM does under load."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from botocore.exceptions import ClientError

    original = SSMProvider._get
    throttled: list[str] = []

    def get(self: SSMProvider, name: str, *args: Any, **kwargs: Any) -> Any:
        if not throttled and name == os.environ.get(parameter_variable):
            throttled.append(name)
            error = {"Error": {"Code": SSM_THROTTLING, "Message": "Rate exceeded"}}
            raise ClientError(error, "GetParameter")
        return original(self, name, *args, **kwargs)

    return mock.patch.object(SSMProvider, "_get", get)


def run_case(case: FaultCase, event: Any | None = None) -> Observation:
    """Run the workflow once against a fresh emulator with ``case``'s fault injected."""
    event = json.loads(DEFAULT_EVENT.read_text(encoding="utf-8")) if event is None else event
    overrides = {"ExportBucket": EMULATOR_BUCKET, "LogLevel": "WARNING"}
    timeouts = {
        "HTTP_CONNECT_TIMEOUT_SECONDS": HTTP_TIMEOUT_SECONDS,
        "HTTP_READ_TIMEOUT_SECONDS": HTTP_TIMEOUT_SECONDS,
    }
    progress = io.StringIO()
    with ExitStack() as stack:
        stack.enter_context(_environment(timeouts))
        emulated = stack.enter_context(emulated_cloud())
        stack.enter_context(redirect_stdout(progress))
        target, control = emulated, emulated.control
        if control is None:  # pragma: no cover - emulated_cloud always provides it
            raise RuntimeError("the emulated cloud has no control")
        overrides.update(case.parameters)
        settings = dict(case.settings)
        if settings.get("IMS_ENDPOINT") == "":
            stack.enter_context(_routing_derived_endpoint(emulated.settings["IMS_ENDPOINT"]))
        if case.iam_at_closed_port:
            settings["IAM_ENDPOINT"] = f"http://127.0.0.1:{_closed_loopback_port()}/v3"
        if case.ssm_throttled_once is not None:
            variable = {"credentials": "CREDENTIALS_PARAMETER", "token": "TOKEN_PARAMETER"}
            stack.enter_context(_throttling_ssm_once(variable[case.ssm_throttled_once]))
        if case.dialect:
            control.set_dialect(**case.dialect)
        if case.wrong_password:
            target = replace(target, credentials={**target.credentials, "password": WRONG_PASSWORD})
        if case.mid_run is not None:
            target = _on_first_wait(target, case.mid_run, control)
        case.inject(control)
        before_start = (
            _seed_token_cache(case.token_cache_value) if case.token_cache_value is not None else None
        )
        result = run_workflow(
            event,
            target,
            overrides=overrides,
            settings=settings,
            stream=progress,
            timeout=RUN_TIMEOUT_SECONDS,
            before_start=before_start,
        )
        outcome = Outcome(
            status=result.status,
            error=result.error,
            export_jobs=control.export_jobs(),
            iam_calls=control.requests("iam_token"),
        )
    return Observation(case, outcome, result.cause, progress.getvalue())
