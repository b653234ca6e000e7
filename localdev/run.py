"""Run the export workflow on this machine: ``python -m localdev.run --event events/manual.json``.

A fleet input (``"trigger": "fleet"``, like ``events/fleet/schedule.json``) starts the fleet state
machine instead, with the export state machine as its child; progress then shows one line per image.
``--via smn`` (``make run EVENT=body.json VIA=smn``) posts the file, as it is, as the body of the SMN
endpoint: the request mapping template.yaml defines for ``POST /smn`` makes the execution input.

The real state machine definition and the real handlers run in moto's Step Functions interpreter, with
SSM, DynamoDB, EventBridge and SNS from moto. The cloud is the built-in IAM/IMS emulator, whose clock
jumps over every Wait instead of sleeping; or, when ``OS_AUTH_URL`` is set, the real cloud reached with
the usual ``OS_*`` variables (then waits are real). Progress goes to stderr; the execution's final output
is printed as JSON on stdout; the exit status is 0 only if the execution succeeded.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from localdev.apigateway import start_execution_request
from localdev.deployment import LocalDeployment, local_deployment
from localdev.routing import NoMatchingTriggerError, execution_input_for
from localdev.stepfunctions import REGION, ExecutionResult, LocalWorkflow, load_handler

if TYPE_CHECKING:
    from localdev.emulator import Control, Emulator, EmulatorConfig, ManualClock

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
DEFAULT_EVENT = ROOT / "events" / "manual.json"
EMULATOR_BUCKET = "ims-export-demo"
FLEET_STATE_MACHINE = "FleetStateMachine"
# A fleet run on the emulator has its export calls throttled (IMG.0060) this often, to show the backoff.
FLEET_DEMO_THROTTLES = 3
# Environment variables a user sets -> template parameters they override.
PARAMETER_VARIABLES = {
    "POLL_MIN_SECONDS": "PollMinSeconds",
    "POLL_MAX_SECONDS": "PollMaxSeconds",
    "EXPORT_BUCKET": "ExportBucket",
    "EXPORT_FILE_FORMAT": "ExportFileFormat",
    "EXPORT_OBJECT_PATTERN": "ExportObjectPattern",
    "IMS_ENDPOINT": "ImsEndpoint",
    "CLOUD": "Cloud",
    "CLOUD_REGION": "CloudRegion",
    "SMN_ALLOWED_TOPIC_URNS": "SmnAllowedTopicUrns",
}
SMN_ROUTE = "POST /smn"
VIA_CHOICES = ("direct", "smn")


@dataclass(frozen=True)
class CloudTarget:
    """Where IAM and IMS are, and the credentials to put into the (moto) credentials parameter."""

    description: str
    parameters: dict[str, str]
    credentials: dict[str, str]
    on_wait: Callable[[float], object]
    secrets: tuple[str, ...]
    clock: Callable[[], datetime] | None = None  # the workflow's "now"; None is real time
    control: Control | None = None  # the emulator's control (faults, counters); None for a real cloud


class RunError(Exception):
    """The run could not start (bad event file, missing variable)."""


def real_cloud_target(environ: Mapping[str, str]) -> CloudTarget:
    """The cloud named by the OpenStack-style variables OTC users already have."""
    missing = [name for name in ("OS_USERNAME", "OS_PASSWORD") if not environ.get(name)]
    domain = environ.get("OS_USER_DOMAIN_NAME") or environ.get("OS_DOMAIN_NAME")
    if not domain:
        missing.append("OS_USER_DOMAIN_NAME")
    if missing:
        raise RunError(f"OS_AUTH_URL is set, so the real cloud is used, but {', '.join(missing)} is not set")
    parameters = {"IamEndpoint": environ["OS_AUTH_URL"].rstrip("/")}
    if environ.get("OS_PROJECT_NAME"):
        parameters["ProjectName"] = environ["OS_PROJECT_NAME"]
    if environ.get("OS_PROJECT_ID"):
        parameters["ProjectId"] = environ["OS_PROJECT_ID"]
    credentials = {
        "user_name": environ["OS_USERNAME"],
        "password": environ["OS_PASSWORD"],
        "domain_name": str(domain),
    }
    return CloudTarget(
        description=f"real cloud at {parameters['IamEndpoint']}",
        parameters=parameters,
        credentials=credentials,
        on_wait=time.sleep,
        secrets=(environ["OS_PASSWORD"],),
    )


def user_parameters(environ: Mapping[str, str]) -> dict[str, str]:
    return {parameter: environ[name] for name, parameter in PARAMETER_VARIABLES.items() if environ.get(name)}


def _say(stream: TextIO, text: str) -> None:
    print(text, file=stream, flush=True)


def describe_event(event: Mapping[str, Any]) -> str | None:
    """One progress line for a history event, or None for the uninteresting ones."""
    kind = event.get("type", "")
    if kind.endswith("StateEntered"):
        return f"  -> {event['stateEnteredEventDetails']['name']}"
    if kind == "TaskStateExited" and event["stateExitedEventDetails"]["name"] in (
        "CheckExport",
        "StartExport",
    ):
        job = json.loads(event["stateExitedEventDetails"].get("output") or "{}").get("job") or {}
        if job:
            percent = job.get("percent")
            shown = f"{percent:.1f} %" if isinstance(percent, int | float) else "n/a"
            return (
                f"     job {job.get('job_id')} {job.get('status')} progress {shown}, "
                f"polls {job.get('polls')}, next poll in {job.get('next_wait_seconds')} s"
            )
    if kind == "WaitStateEntered":
        return None
    if kind.endswith("Failed") or kind in ("ExecutionTimedOut", "ExecutionAborted"):
        details: Mapping[str, Any] = next(
            (value for key, value in event.items() if key.endswith("EventDetails")), {}
        )
        return f"  !! {kind}: {details.get('error', '')} {details.get('cause', '')[:300]}"
    return None


def describe_fleet_event(event: Mapping[str, Any]) -> str | None:
    """One progress line for a fleet history event: the selection, then one line per image."""
    kind = event.get("type", "")
    if kind == "TaskStateExited":
        details = event["stateExitedEventDetails"]
        output = json.loads(details.get("output") or "{}")
        if details["name"] == "SelectImages" and isinstance(output.get("plan"), dict):
            plan = output["plan"]
            lines = [
                f"  selected {len(plan['items'])} of {plan['considered']} images, "
                f"at most {plan['max_concurrency']} at a time"
            ]
            lines += [
                f"     skipped {item['image_id']} {item.get('image_name', '')}: {item['reason']}"
                for item in plan["skipped"]
            ]
            return "\n".join(lines)
        if details["name"] == "RecordResult":
            return f"  image {output.get('image_id')} {_image_result(output)}"
    if kind == "TaskStateEntered" and event["stateEnteredEventDetails"]["name"] == "ExportImage":
        image_id = json.loads(event["stateEnteredEventDetails"].get("input") or "{}").get("image_id")
        return f"  image {image_id} export started"
    if kind.startswith("Execution") and kind != "ExecutionStarted":
        return describe_event(event)
    return None


def _image_result(result: Mapping[str, Any]) -> str:
    status = result.get("status")
    if status == "EXPORTED":
        return f"EXPORTED in {result.get('elapsed_seconds')} s ({result.get('polls')} polls)"
    if status == "CONTINUED":
        return f"continued in {result.get('execution_arn')}"
    return f"{status} {result.get('error')}: {result.get('reason')}"


def fleet_summary_line(output: Any) -> str | None:
    """The fleet's summary in one line, or None if ``output`` is not a fleet summary."""
    if not isinstance(output, Mapping) or output.get("detail_type") != "Fleet Export Finished":
        return None
    durations = output.get("durations") or {}
    return (
        f"fleet {output['status']}: {output['exported_count']} exported, {output['skipped_count']} skipped, "
        f"{output['failed_count']} failed of {output['considered']} considered in "
        f"{durations.get('fleet_seconds')} s (export mean {durations.get('export_seconds_mean')} s)"
    )


@contextmanager
def progress_printer(
    workflow: LocalWorkflow,
    arn: str,
    stream: TextIO,
    describe: Callable[[Mapping[str, Any]], str | None] = describe_event,
) -> Iterator[None]:
    """Print the execution's history as it grows, from a background thread."""
    stop = threading.Event()

    def follow() -> None:
        seen = 0
        while True:
            finished = stop.is_set()
            events = workflow.history(arn)
            for event in events[seen:]:
                line = describe(event)
                if line:
                    _say(stream, line)
            seen = len(events)
            if finished:
                return
            stop.wait(0.05)

    thread = threading.Thread(target=follow, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def prepare_aws_resources(deployment: LocalDeployment, credentials: Mapping[str, str]) -> None:
    """What a user creates before deploying (the credentials) and what the stack creates (the table)."""
    import boto3

    environment = deployment.environment
    boto3.client("ssm").put_parameter(
        Name=environment["CREDENTIALS_PARAMETER"],
        Value=json.dumps(dict(credentials)),
        Type="SecureString",
        Overwrite=True,
    )
    boto3.client("dynamodb").create_table(
        TableName=environment["IDEMPOTENCY_TABLE"],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def follow_continuations(
    workflow: LocalWorkflow, arn: str, stream: TextIO, timeout: float
) -> ExecutionResult:
    """Wait for the execution and for any execution it continued in (history-limit guard)."""
    while True:
        with progress_printer(workflow, arn, stream):
            result = workflow.wait_for(arn, timeout=timeout)
        continued = (result.output or {}).get("continued_in") if result.status == "SUCCEEDED" else None
        if not continued:
            return result
        arn = continued["execution_arn"]
        _say(stream, f"  .. continued in {arn}")


def smn_execution_input(deployment: LocalDeployment, body: str) -> Any:
    """The input the SMN endpoint starts an execution with for ``body``, by the template's own mapping."""
    template = deployment.request_templates.get(SMN_ROUTE)
    if template is None:
        raise RunError(
            "the SMN endpoint is not deployed with these parameters: set SMN_ALLOWED_TOPIC_URNS "
            "(the SmnAllowedTopicUrns parameter) to the topics it accepts"
        )
    request = start_execution_request(template, body)
    expected = LocalWorkflow.machine_arn(deployment.main_state_machine)
    if request.get("stateMachineArn") != expected:
        raise RunError(f"the SMN endpoint starts no execution for this body: {json.dumps(request)[:200]}")
    return json.loads(request["input"])


def is_fleet_input(execution_input: Any) -> bool:
    return isinstance(execution_input, Mapping) and execution_input.get("trigger") == "fleet"


def _workflow_for(
    deployment: LocalDeployment, execution_input: Any, handlers: Mapping[str, Any], target: CloudTarget
) -> LocalWorkflow:
    """The export state machine; or, for a fleet input, the fleet one with the export one as child."""
    bus = deployment.substitutions.get("EventBusName", "default")
    topic_arn = deployment.substitutions.get("NotificationTopicArn", "")
    common: dict[str, Any] = {
        "handlers": handlers,
        "environment": deployment.environment,
        "on_wait": target.on_wait,
        "event_buses": [bus] if bus != "default" else [],
        "topics": [topic_arn.rsplit(":", 1)[-1]] if topic_arn else [],
    }
    if not is_fleet_input(execution_input):
        return LocalWorkflow(deployment.definition_path, deployment.substitutions, **common)
    fleet = deployment.state_machines.get(FLEET_STATE_MACHINE)
    if fleet is None:
        raise RunError(f"a fleet input needs the {FLEET_STATE_MACHINE} of the template")
    main = deployment.state_machines[deployment.main_state_machine]
    return LocalWorkflow(
        fleet.definition_path,
        fleet.substitutions,
        name=FLEET_STATE_MACHINE,
        state_machines={deployment.main_state_machine: (main.definition_path, main.substitutions)},
        **common,
    )


def run_workflow(
    event: Any,
    target: CloudTarget,
    *,
    template: Path = TEMPLATE,
    overrides: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
    timeout: float = 600.0,
    before_start: Callable[[LocalDeployment], object] | None = None,
    observe: Callable[[LocalWorkflow, ExecutionResult], object] | None = None,
    via: str = "direct",
) -> ExecutionResult:
    """Route ``event`` as the template's triggers would and run one execution to its end.

    ``via="smn"`` takes ``event`` as the raw body POSTed to the SMN endpoint (a string).

    ``before_start`` runs once the (moto) AWS resources exist, just before the execution starts: a
    test's chance to put the deployment into a given state (a stale or damaged token cache, say).
    ``observe`` runs after the end, while the (moto) executions, events and messages still exist."""
    from ims_export import runtime
    from ims_export.settings import Settings

    # Looked up per call, not bound at import: a caller may have redirected sys.stderr since.
    stream = stream or sys.stderr
    parameters = {**target.parameters, **(overrides or {})}
    deployment = local_deployment(template, parameters)
    if via == "smn":
        route, execution_input = f"the SMN endpoint ({SMN_ROUTE})", smn_execution_input(deployment, event)
    else:
        route, execution_input = execution_input_for(event, template)
    _say(stream, f"ims-export local run: {target.description}; event routed by {route}")
    # The handlers' Powertools loggers read their settings and stream when they are imported.
    os.environ.update(deployment.environment)
    handlers = {
        name: load_handler(path)
        for name, path in deployment.handlers.items()
        if name != "RefreshTokenFunction"
    }
    fleet = is_fleet_input(execution_input)
    with _workflow_for(deployment, execution_input, handlers, target) as workflow:
        prepare_aws_resources(deployment, target.credentials)
        if before_start is not None:
            before_start(deployment)
        clients = runtime.build_clients(Settings.from_env())
        if target.clock is not None:
            clients = replace(clients, clock=target.clock)
        with runtime.use_clients(clients):
            arn = workflow.start_execution(execution_input)
            _say(stream, f"execution {arn}")
            if fleet:
                with progress_printer(workflow, arn, stream, describe_fleet_event):
                    result = workflow.wait_for(arn, timeout=timeout)
                _say(stream, fleet_summary_line(result.output) or "fleet: no summary")
            else:
                result = follow_continuations(workflow, arn, stream, timeout)
            if observe is not None:
                observe(workflow, result)
        _say(stream, token_cache_status(deployment))
        return result


def token_cache_status(deployment: LocalDeployment) -> str:
    """Where the token cache is (the value itself is never shown)."""
    import boto3

    name = deployment.environment["TOKEN_PARAMETER"]
    found = boto3.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
    )["Parameters"]
    if not found:
        return f"token cache: {name} was not written"
    return f"token cache: {name} in the local (moto) parameter store, version {found[0]['Version']}"


def use_layer_on_path() -> None:
    """Make ``ims_export`` importable as the Lambda layer makes it (``/opt/python`` there)."""
    layer = str(ROOT / "layers" / "common")
    if layer not in sys.path:
        sys.path.insert(0, layer)


def isolate_from_aws() -> None:
    """Everything AWS is moto in a local run: never let a developer's real AWS credentials be used."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_PROFILE", None)


def quiet_libraries() -> None:
    """moto's interpreter logs every caught error with a dump of its internals; the progress lines say it."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def main(argv: list[str] | None = None) -> int:
    use_layer_on_path()
    isolate_from_aws()
    quiet_libraries()
    parser = argparse.ArgumentParser(prog="python -m localdev.run", description=__doc__.splitlines()[0])
    parser.add_argument("--event", type=Path, default=DEFAULT_EVENT, help="trigger event (JSON file)")
    parser.add_argument("--timeout", type=float, default=600.0, help="wall-clock seconds to wait at most")
    parser.add_argument("--verbose", action="store_true", help="show the functions' log lines")
    parser.add_argument(
        "--via", choices=VIA_CHOICES, default="direct", help="smn: post the file as the SMN endpoint's body"
    )
    args = parser.parse_args(argv)
    try:
        text = args.event.read_text(encoding="utf-8")
        event = text if args.via == "smn" else json.loads(text)
    except (OSError, ValueError) as error:
        _say(sys.stderr, f"cannot read event file {args.event}: {error}")
        return 2
    overrides = user_parameters(os.environ)
    overrides.setdefault("LogLevel", "DEBUG" if args.verbose else "WARNING")
    try:
        # Function logs go to stderr with the progress: stdout carries only the final JSON.
        with redirect_stdout(sys.stderr if args.verbose else MetricBlobFilter(sys.stderr)):
            if os.environ.get("OS_AUTH_URL"):
                result = run_workflow(
                    event,
                    real_cloud_target(os.environ),
                    overrides=overrides,
                    timeout=args.timeout,
                    via=args.via,
                )
            else:
                with emulated_cloud() as target:
                    overrides.setdefault("ExportBucket", EMULATOR_BUCKET)
                    if is_fleet_input(event) and target.control is not None:
                        target.control.inject("export", "flow_control", times=FLEET_DEMO_THROTTLES)
                        _say(
                            sys.stderr,
                            f"emulator: the next {FLEET_DEMO_THROTTLES} export calls are throttled",
                        )
                    result = run_workflow(
                        event, target, overrides=overrides, timeout=args.timeout, via=args.via
                    )
    except (RunError, NoMatchingTriggerError) as error:
        _say(sys.stderr, f"error: {error}")
        return 2
    _say(sys.stderr, f"execution {result.status}" + (f": {result.error}" if result.error else ""))
    print(json.dumps(result.output if result.output is not None else result_summary(result), indent=2))
    return 0 if result.status == "SUCCEEDED" else 1


def result_summary(result: ExecutionResult) -> dict[str, Any]:
    """A failed execution's error and cause; the cause is the published outcome, shown as JSON, not text."""
    cause: Any = result.cause
    with suppress(ValueError):
        cause = json.loads(result.cause or "")
    return {"status": result.status, "error": result.error, "cause": cause}


class MetricBlobFilter(io.TextIOBase):
    """Drops the CloudWatch EMF lines Powertools prints (its cold-start metric ignores
    POWERTOOLS_METRICS_DISABLED) and passes everything else on to ``target``."""

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._dropping = False

    def write(self, text: str) -> int:
        if text.startswith('{"_aws"'):
            self._dropping = not text.endswith("\n")
            return len(text)
        if self._dropping and text == "\n":
            self._dropping = False
            return len(text)
        self._dropping = False
        return self._target.write(text)

    def flush(self) -> None:
        self._target.flush()


def emulator_target(emulator: Emulator, clock: ManualClock, description: str | None = None) -> CloudTarget:
    """The cloud target of a running emulator whose clock the state machine's waits advance."""
    config = emulator.config
    return CloudTarget(
        description=description or f"built-in emulator at {emulator.base_url}",
        parameters={
            "IamEndpoint": emulator.iam_url,
            "ImsEndpoint": emulator.base_url,
            "CloudRegion": config.region,
        },
        credentials={
            "user_name": config.user_name,
            "password": config.user_password,
            "domain_name": config.domain_name,
        },
        on_wait=clock.advance,
        clock=lambda: datetime.fromtimestamp(clock.now(), UTC),
        secrets=(config.user_password,),
        control=emulator.control,
    )


@contextmanager
def emulated_cloud(config: EmulatorConfig | None = None) -> Iterator[CloudTarget]:
    """The built-in emulator on a free loopback port, its clock advanced by the state machine's waits."""
    from localdev.emulator import Emulator, ManualClock

    # Start at the real time, so that timestamps read sensibly; every Wait then moves it forward.
    clock = ManualClock(start=time.time())
    with Emulator(config, clock=clock) as emulator:
        yield emulator_target(emulator, clock)


if __name__ == "__main__":
    sys.exit(main())
