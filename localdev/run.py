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
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from localdev import restore_interrupts
from localdev.apigateway import start_execution_request
from localdev.cloud_config import CloudConfigError, cloud_settings, wants_real_cloud
from localdev.deployment import LocalDeployment, TemplateResolutionError, local_deployment
from localdev.result import local_document, result_document
from localdev.routing import NoMatchingTriggerError, execution_input_for
from localdev.stepfunctions import REGION, ExecutionResult, LocalWorkflow, load_handler
from localdev.watch import (
    DEFAULT_HEARTBEAT_SECONDS,
    ProgressMemory,
    RunInterrupted,
    RunWatch,
    closing_sentence,
    counted,
    cut,
    duration,
    one_line,
)

if TYPE_CHECKING:
    from ims_export.runtime import Clients
    from ims_export.settings import Settings
    from ims_export.triggers.orders import ExportOrder
    from localdev.emulator import Control, Emulator, EmulatorConfig, ManualClock
    from localdev.obs_notifier import ObsNotifier

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
DEFAULT_EVENT = ROOT / "events" / "manual.json"
EMULATOR_BUCKET = "ims-export-demo"
FLEET_STATE_MACHINE = "FleetStateMachine"
# A fleet run on the emulator has its export calls throttled (IMG.0060) this often, to show the backoff.
FLEET_DEMO_THROTTLES = 3
# The emulator's clock jumps over every wait: a run that lasts longer than this hangs (a guard, no budget).
EMULATOR_HANG_GUARD_SECONDS = 900.0
# --earlier-exports: a day apart, as the default pattern's {date} tells exports apart; enough to watch.
MAX_EARLIER_EXPORTS = 30
# The pattern fields that tell exports a day apart apart ({time} alone names them all alike).
DAY_FIELDS = ("date", "timestamp")
# Exit codes (docs/local-runs.md): 0 succeeded, 1 the execution failed, 2 refused before it started.
EXIT_SUCCEEDED, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
EXIT_GAVE_UP = 124  # TIMEOUT passed, the export goes on (as timeout(1) exits)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)
EXIT_TERMINATED = 143  # SIGTERM (a CI job cancelled, `timeout`, `kill`): 128 + SIGTERM
# Environment variables a user sets -> template parameters they override. Any tunable setting
# (POLL_MIN_SECONDS, EXPORT_OBJECT_PATTERN, ...) goes into the Settings parameter instead, as deployed.
PARAMETER_VARIABLES = {
    "EXPORT_BUCKET": "ExportBucket",
    "EXPORT_FILE_FORMAT": "ExportFileFormat",
    "CLOUD": "Cloud",
    "CLOUD_REGION": "CloudRegion",
    "SMN_ALLOWED_TOPIC_URNS": "SmnAllowedTopicUrns",
}
SETTINGS_PARAMETER = "Settings"
SMN_ROUTE = "POST /smn"
VIA_CHOICES = ("direct", "smn")
OBS_NOTIFICATION_CHOICES = ("delivered", "lost")  # localdev.obs_notifier's modes


@dataclass(frozen=True)
class CloudTarget:
    """Where IAM and IMS are, and the credentials to put into the (moto) credentials parameter."""

    description: str
    parameters: dict[str, str]
    credentials: dict[str, str]
    on_wait: Callable[[float], object]
    secrets: tuple[str, ...]
    # Tunable settings by variable name (IAM_ENDPOINT, ...): the Settings parameter's JSON object.
    settings: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] | None = None  # the workflow's "now"; None is real time
    control: Control | None = None  # the emulator's control (faults, counters); None for a real cloud


class RunError(Exception):
    """The run could not start (bad event file, missing variable)."""


def real_cloud_target(
    environ: Mapping[str, str], on_wait: Callable[[float], object] = time.sleep
) -> CloudTarget:
    """The cloud named by ``OS_CLOUD`` (clouds.yaml) and the ``OS_*`` variables OTC users already have."""
    try:
        cloud = cloud_settings(environ)
    except CloudConfigError as error:
        raise RunError(str(error)) from None
    parameters: dict[str, str] = {}
    settings: dict[str, str] = {}
    if cloud.auth_url:
        settings["IAM_ENDPOINT"] = cloud.auth_url
    if cloud.region_name:  # derives the IAM endpoint when none is given, and picks the catalog's region
        parameters["CloudRegion"] = cloud.region_name
    if cloud.project_name:
        parameters["ProjectName"] = cloud.project_name
    if cloud.project_id:
        settings["PROJECT_ID"] = cloud.project_id
    credentials = {
        "user_name": cloud.username,
        "password": cloud.password,
        "domain_name": cloud.domain_name,
    }
    where = cloud.auth_url or f"region {cloud.region_name}"
    return CloudTarget(
        description=f"real cloud at {where} ({cloud.source})",
        parameters=parameters,
        credentials=credentials,
        on_wait=on_wait,
        secrets=(cloud.password,),
        settings=settings,
    )


def user_parameters(environ: Mapping[str, str]) -> dict[str, str]:
    return {parameter: environ[name] for name, parameter in PARAMETER_VARIABLES.items() if environ.get(name)}


def user_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The tunable settings a user set as variables, over those of an ``IMS_EXPORT_SETTINGS`` object."""
    from ims_export.settings import SETTINGS_JSON_ENV, TUNABLE

    raw = environ.get(SETTINGS_JSON_ENV, "").strip()
    try:
        document = json.loads(raw) if raw else {}
    except ValueError:
        raise RunError(
            f'{SETTINGS_JSON_ENV} is not JSON: write an object such as {{"POLL_MAX_SECONDS": 900}}'
        ) from None
    if not isinstance(document, dict):
        raise RunError(f'{SETTINGS_JSON_ENV} must be a JSON object such as {{"POLL_MAX_SECONDS": 900}}')
    for name in sorted(set(document) & set(PARAMETER_VARIABLES)):
        parameter = PARAMETER_VARIABLES[name]
        raise RunError(
            f"{SETTINGS_JSON_ENV} cannot set {name}, which is the template parameter {parameter}: "
            f"set it as the make variable {name}=<value> (make run) or the {parameter} parameter (sam deploy)"
        )
    return {**document, **{name: environ[name] for name in sorted(TUNABLE) if environ.get(name)}}


def with_settings(parameters: Mapping[str, str], settings: Mapping[str, Any]) -> dict[str, str]:
    """``parameters`` with ``settings`` merged into the Settings parameter's JSON object (an empty
    value unsets a setting: it then takes its default or is derived)."""
    given = json.loads(parameters.get(SETTINGS_PARAMETER) or "{}")
    merged = {name: value for name, value in {**given, **settings}.items() if value not in (None, "")}
    return {**parameters, SETTINGS_PARAMETER: json.dumps(merged, sort_keys=True)}


def _say(stream: TextIO, text: str) -> None:
    """Print ``text``, each line cut short: lines echo values from the event and the cloud."""
    print("\n".join(cut(line) for line in text.split("\n")), file=stream, flush=True)


def exited_job(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The job a start or check step handed on, from its TaskStateExited event."""
    if event.get("type") != "TaskStateExited":
        return None
    details = event["stateExitedEventDetails"]
    if details["name"] not in ("CheckExport", "StartExport"):
        return None
    output = json.loads(details.get("output") or "{}")
    # A start that POSTed hands its job on through RecordJob (``then``: what is polled next).
    job = output.get("job") or (output.get("then") or {}).get("job")
    return job if isinstance(job, dict) and job else None


def started_target(event: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """The image name and bucket_url a start step named before any job: waiting for the image or
    claiming the export (from its TaskStateExited event)."""
    if event.get("type") != "TaskStateExited":
        return None
    details = event["stateExitedEventDetails"]
    if details["name"] != "StartExport":
        return None
    with suppress(ValueError):
        output = json.loads(details.get("output") or "{}")
        pending = output.get("pending") if isinstance(output, dict) else None
        if isinstance(pending, dict) and isinstance(pending.get("request"), dict):
            return pending.get("image_name"), pending["request"].get("bucket_url")
        if isinstance(output, dict) and output.get("phase") == "waiting_for_image":
            return output.get("image_name"), output.get("bucket_url")
    return None


def describe_event(event: Mapping[str, Any], progress: ProgressMemory | None = None) -> str | None:
    """One progress line for a history event, or None for the uninteresting ones."""
    kind = event.get("type", "")
    if kind.endswith("StateEntered"):
        return f"  -> {event['stateEnteredEventDetails']['name']}"
    job = exited_job(event)
    if job:
        return (
            f"     job {job.get('job_id')} {job.get('status')} progress "
            f"{(progress or ProgressMemory()).text(job)}, "
            f"polls {job.get('polls')}, next poll in {duration(float(job.get('next_wait_seconds') or 0))}"
            + (" unless OBS notifies the object first" if job.get("wake") else "")
        )
    if kind == "WaitStateEntered":
        return None
    if kind.endswith("Failed") or kind in ("ExecutionTimedOut", "ExecutionAborted"):
        details: Mapping[str, Any] = next(
            (value for key, value in event.items() if key.endswith("EventDetails")), {}
        )
        return f"  !! {kind}: {details.get('error', '')}: {_cause_words(details.get('cause', ''))}"
    return None


def _cause_words(cause: str) -> str:
    """A cause as words: the message of an outcome or a Lambda error, not JSON cut in the middle."""
    document: Any = None
    with suppress(ValueError):
        document = json.loads(cause)
    if isinstance(document, Mapping):
        cause = str(document.get("message") or document.get("errorMessage") or document.get("error") or cause)
    return cut(" ".join(cause.split()), 300)


def describe_fleet_event(event: Mapping[str, Any], progress: ProgressMemory | None = None) -> str | None:
    """One progress line for a fleet history event: the selection's pages, then the map runs (the
    images' lines come from their child executions, see ``describe_child_end``)."""
    kind = event.get("type", "")
    if kind == "TaskStateExited":
        details = event["stateExitedEventDetails"]
        output = json.loads(details.get("output") or "{}")
        if details["name"] == "SelectImages" and isinstance(output.get("plan"), dict):
            plan = output["plan"]
            lines = [
                f"  selected {plan['selected']} of {plan['considered']} images, "
                f"at most {plan['max_concurrency']} at a time (page {plan['page'] + 1} of {plan['pages']})"
            ]
            if plan["page"] == 0:
                lines += [
                    f"     skipped {item['image_id']} {item.get('image_name', '')}: {item['reason']}"
                    for item in plan["skipped"]
                ]
            return "\n".join(lines)
    if kind == "MapRunStarted":
        return f"  map run {event['mapRunStartedEventDetails']['mapRunArn']}"
    if kind.startswith("Execution") and kind != "ExecutionStarted":
        return describe_event(event, progress)
    return None


def describe_child_end(workflow: LocalWorkflow, arn: str) -> str:
    """The line for an ended child export: the image's result as the fleet records it."""
    from ims_export.fleet.items import ItemRecord, record_item

    child = workflow.sfn.describe_execution(executionArn=arn)
    given = json.loads(child.get("input") or "{}")
    described = {
        "Status": child["status"],
        "Output": child.get("output"),
        "Error": child.get("error"),
        "Cause": child.get("cause"),
    }
    result = record_item(ItemRecord(image_id=str(given.get("image_id", "")), child=described))
    return f"  image {result.image_id} {_image_result(result.model_dump(mode='json'))}"


def _image_result(result: Mapping[str, Any]) -> str:
    status = result.get("status")
    if status == "EXPORTED":
        exported = result.get("object") or {}
        size = f", {exported['size_bytes']} bytes" if isinstance(exported.get("size_bytes"), int) else ""
        polls = counted(result.get("polls"), "poll")
        return f"EXPORTED in {_duration_of(result.get('elapsed_seconds'))} ({polls}{size})"
    if status == "CONTINUED":
        return f"continued in {result.get('execution_arn')}"
    export = ", to ".join(str(result[name]) for name in ("image_name", "bucket_url") if result.get(name))
    return f"{status} {result.get('error')}: {result.get('reason')}" + (f" ({export})" if export else "")


def fleet_summary_line(output: Any) -> str | None:
    """The fleet's summary in one line, or None if ``output`` is not a fleet summary."""
    if not isinstance(output, Mapping) or output.get("detail_type") != "Fleet Export Finished":
        return None
    durations = output.get("durations") or {}
    line = (
        f"fleet {output['status']}: {output['exported_count']} exported, {output['skipped_count']} skipped, "
        f"{output['failed_count']} failed of {output['considered']} considered in "
        f"{_duration_of(durations.get('fleet_seconds'))} "
        f"(export mean {_duration_of(durations.get('export_seconds_mean'))})"
    )
    if output.get("failed_count"):
        line += (
            "; each entry of failed in the output names its error, its reason and its child execution "
            "(execution_arn): fix the cause, then export those images again"
        )
    return line


def _duration_of(seconds: Any) -> str:
    """A duration from a state machine's output, which may lack it (or hold anything else)."""
    is_number = isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0
    return duration(seconds) if is_number and seconds < float("inf") else "n/a"


@contextmanager
def progress_printer(
    workflow: LocalWorkflow,
    arn: str,
    stream: TextIO,
    describe: Callable[[Mapping[str, Any], ProgressMemory], str | None] = describe_event,
    watch: RunWatch | None = None,
    *,
    children: str | None = None,
) -> Iterator[None]:
    """Print the execution's history as it grows, from a background thread (and tell ``watch`` the
    latest job, for heartbeats and for an interrupted run). ``children`` names the state machine of
    child executions (a fleet's exports) whose jobs ``watch`` hears of too."""
    stop = threading.Event()
    progress = ProgressMemory()

    def follow() -> None:
        seen = 0
        seen_in_child: dict[str, int] = {}
        ended_children: set[str] = set()
        while True:
            finished = stop.is_set()
            events = workflow.history(arn)
            for event in events[seen:]:
                job = exited_job(event)
                if job and watch is not None:
                    watch.saw_job(job)
                target = started_target(event)
                if target and watch is not None:
                    watch.saw_target(*target)
                line = describe(event, progress)
                if line:
                    _say(stream, line)
            seen = len(events)
            if children is not None:
                for child in workflow.executions(children):
                    child_arn = child["executionArn"]
                    if child_arn in ended_children:
                        continue
                    child_events = workflow.history(child_arn)
                    for event in child_events[seen_in_child.get(child_arn, 0) :]:
                        job = exited_job(event)
                        if job and watch is not None:
                            watch.saw_job(job, child=True)
                    seen_in_child[child_arn] = len(child_events)
                    if child["status"] != "RUNNING":
                        ended_children.add(child_arn)
                        _say(stream, describe_child_end(workflow, child_arn))
            if finished:
                return
            stop.wait(0.05)

    thread = threading.Thread(target=follow, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # The last pass prints what the run ended with: no time limit, which a loaded machine can exceed
        # (it reads the in-process AWS world only; Ctrl-C still interrupts the wait).
        thread.join()


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
    workflow: LocalWorkflow, arn: str, stream: TextIO, timeout: float, watch: RunWatch | None = None
) -> ExecutionResult:
    """Wait for the execution and for any execution it continued in (history-limit guard)."""
    while True:
        with progress_printer(workflow, arn, stream, watch=watch):
            result = workflow.wait_for(arn, timeout=watch.time_left(timeout) if watch else timeout)
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
        "buckets": deployment.buckets,
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


@dataclass(frozen=True)
class FollowRequest:
    """``make follow``: poll a running IMS export job to its end, as the state machine would have."""

    job_id: str
    image_id: str | None = None
    bucket_url: str | None = None


def follow_input(request: FollowRequest, clients: Clients) -> tuple[str, dict[str, Any]]:
    """The name and input of an execution that resumes polling ``request.job_id``: the state machine's
    own continue-as-new, with a one-time hand-over record in the (local) idempotency table."""
    from ims_export.cloud.ims_api import check_job_id
    from ims_export.errors import ImsExportError
    from ims_export.steps.continuation import hand_over
    from ims_export.steps.handover import dynamodb_handover_store
    from ims_export.steps.states import HandOverRequest, JobState

    try:
        job = clients.ims.get_job(check_job_id(request.job_id))
    except ImsExportError as error:
        raise RunError(f"cannot follow job {request.job_id}: {error}") from None
    image_id = job.entities.image_id or request.image_id
    if not image_id:
        raise RunError(f"IMS does not name the image of job {request.job_id}: pass IMAGE=<image id>")
    now = clients.clock()
    started_at = job.begin_time or now
    settings = clients.settings  # the start function's environment: the template's limits
    state = JobState(
        job_id=job.job_id,
        image_id=image_id,
        image_name=job.entities.image_name or "",
        bucket_url=request.bucket_url or "",
        started_at=started_at,
        deadline=started_at + timedelta(seconds=settings.execution_timeout_seconds),
        max_polls_per_execution=settings.max_polls_per_execution,
        status=job.status,
        percent=job.process_percent,
    )
    table = settings.idempotency_table
    handed = hand_over(
        HandOverRequest(hand_over=state), dynamodb_handover_store(table) if table else None, now=now
    )
    return handed.continuation_name, {"resume": {"ticket": handed.ticket}}


def names_a_bucket(execution_input: Any) -> bool:
    """Whether the input carries its own ``bucket_url`` (directly or in an EventBridge detail)."""
    if not isinstance(execution_input, Mapping):
        return False
    detail = execution_input.get("detail")
    in_detail = isinstance(detail, Mapping) and bool(detail.get("bucket_url"))
    return bool(execution_input.get("bucket_url")) or in_detail


def check_bucket_known(execution_input: Any, deployment: LocalDeployment) -> None:
    if "resume" in (execution_input if isinstance(execution_input, Mapping) else {}):
        return
    if not names_a_bucket(execution_input) and not deployment.parameters.get("ExportBucket"):
        raise RunError(
            "no bucket to export to: the event has no bucket_url and ExportBucket is empty; "
            "set EXPORT_BUCKET=<bucket> (make run) or the ExportBucket parameter (sam deploy)"
        )


def deployment_for(
    template: Path,
    target: CloudTarget,
    overrides: Mapping[str, str] | None,
    settings: Mapping[str, Any] | None,
) -> LocalDeployment:
    """The template resolved for ``target``; RunError for parameters or settings the deployment (or
    its functions, at their first call) would refuse."""
    from ims_export.errors import ConfigurationError
    from ims_export.settings import SETTINGS_JSON_ENV, Settings

    # No Lambda layer runs here, so no Parameters and Secrets extension: the token is read through SSM.
    local = {"ParametersExtensionLayerArn": ""}
    parameters = with_settings(
        {**local, **target.parameters, **(overrides or {})}, {**target.settings, **(settings or {})}
    )
    try:
        deployment = local_deployment(template, parameters)
        Settings.from_env({**os.environ, **deployment.environment})
    except TemplateResolutionError as error:
        raise RunError(str(error)) from None
    except ConfigurationError as error:
        if str(error).startswith(SETTINGS_JSON_ENV):  # its own message says what it takes
            raise RunError(str(error)) from None
        raise RunError(
            f"{error}: give the setting it names a valid value, as a make variable (NAME=value) or a key "
            f"of {SETTINGS_JSON_ENV} here, a key of the Settings parameter when deployed"
        ) from None
    return deployment


def run_workflow(
    event: Any,
    target: CloudTarget,
    *,
    template: Path = TEMPLATE,
    overrides: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
    stream: TextIO | None = None,
    timeout: float = 600.0,
    before_start: Callable[[LocalDeployment], object] | None = None,
    observe: Callable[[LocalWorkflow, ExecutionResult], object] | None = None,
    watch: RunWatch | None = None,
    via: str = "direct",
    obs_notifications: str = OBS_NOTIFICATION_CHOICES[0],
) -> ExecutionResult:
    """Route ``event`` as the template's triggers would and run one execution to its end.

    ``event`` may be a ``FollowRequest``: the execution then resumes polling that IMS job.
    ``overrides`` are template parameters, ``settings`` tunable settings by variable name (they go
    into the Settings parameter's JSON object, over the target's own).
    ``via="smn"`` takes ``event`` as the raw body POSTed to the SMN endpoint (a string).
    ``before_start`` runs once the (moto) AWS resources exist, just before the execution starts: a
    test's chance to put the deployment into a given state (a stale or damaged token cache, say).
    ``observe`` runs after the end, while the (moto) executions, events and messages still exist.
    ``watch`` hears of every job seen; on any exception its waits are cancelled, so that no background
    execution sleeps on or calls the cloud again."""
    from ims_export import runtime
    from ims_export.settings import Settings

    # Looked up per call, not bound at import: a caller may have redirected sys.stderr since.
    stream = stream or sys.stderr
    notifier = obs_notifier_for(target, settings, obs_notifications)
    if notifier is not None:  # the SMN endpoint is deployed, for the topic the emulator's OBS publishes to
        overrides = {**(overrides or {}), "SmnAllowedTopicUrns": notifier.topic_urn}
    deployment = deployment_for(template, target, overrides, settings)
    following = event if isinstance(event, FollowRequest) else None
    if via == "smn":
        route, execution_input = f"the SMN endpoint ({SMN_ROUTE})", smn_execution_input(deployment, event)
    elif following is None:
        route, execution_input = execution_input_for(event, template)
        check_bucket_known(execution_input, deployment)
    else:
        route, execution_input = f"follow job {following.job_id}", None
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
        try:
            prepare_aws_resources(deployment, target.credentials)
            if before_start is not None:
                before_start(deployment)
            clients = runtime.build_clients(Settings.from_env())
            if target.clock is not None:
                clients = replace(clients, clock=target.clock)
            if notifier is not None:
                notifier.install(clients.settings, workflow, lambda text: _say(stream, text), fleet=fleet)
            with runtime.use_clients(clients):
                name = None
                if following is not None:
                    name, execution_input = follow_input(following, clients)
                arn = workflow.start_execution(execution_input, name=name)
                _say(stream, f"execution {arn}")
                if fleet:
                    with progress_printer(
                        workflow,
                        arn,
                        stream,
                        describe_fleet_event,
                        watch,
                        children=deployment.main_state_machine,
                    ):
                        result = workflow.wait_for(
                            arn, timeout=watch.time_left(timeout) if watch else timeout
                        )
                else:
                    result = follow_continuations(workflow, arn, stream, timeout, watch)
                if observe is not None:
                    observe(workflow, result)
        except BaseException:
            # Before the executions are stopped: a wait must not sleep on, nor a poll follow it.
            if watch is not None:
                watch.cancel()
            raise
        _say(stream, token_cache_status(deployment))
        return result


def obs_notifier_for(
    target: CloudTarget, settings: Mapping[str, Any] | None, mode: str
) -> ObsNotifier | None:
    """The emulator's OBS notifications for a run with WAKE_ON_OBS_NOTIFICATION (none for a real cloud:
    there OBS and SMN send them)."""
    value = {**target.settings, **(settings or {})}.get("WAKE_ON_OBS_NOTIFICATION")
    from ims_export.settings import Settings
    from localdev.obs_notifier import ObsNotifier

    on = False
    if target.control is not None and value is not None:
        try:
            on = Settings.model_validate({"wake_on_obs_notification": value}).wake_on_obs_notification
        except ValueError:
            return None  # the deployment refuses the value, naming it
    if not on and mode == "lost":
        raise RunError(
            "OBS_NOTIFICATIONS=lost drops the notifications of the built-in emulator's OBS: it needs "
            "WAKE_ON_OBS_NOTIFICATION=true and the built-in emulator"
        )
    return ObsNotifier(target.control, mode=mode) if on and target.control is not None else None


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


# The make variable that passes each option (Makefile ``run`` and ``follow``), for the option errors.
MAKE_VARIABLES = {
    "--event": "EVENT",
    "--via": "VIA",
    "--obs-notifications": "OBS_NOTIFICATIONS",
    "--timeout": "TIMEOUT",
    "--heartbeat": "HEARTBEAT",
    "--earlier-exports": "EARLIER_EXPORTS",
    "--follow": "JOB",
    "--image": "IMAGE",
    "--bucket-url": "BUCKET_URL",
    "--verbose": "VERBOSE",
}


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (and the exit code of a refusal), not a usage dump; an option is
    named with its make variable too, as most runs start from make."""

    def error(self, message: str) -> NoReturn:
        for option, variable in MAKE_VARIABLES.items():
            message = message.replace(f"argument {option}:", f"{variable} (argument {option}):")
        sentence = f"error: {cut(message)} (python -m localdev.run --help lists the options)"
        print(json.dumps(local_document("REFUSED", error="RunRefused", message=sentence), indent=2))
        self.exit(EXIT_REFUSED, sentence + "\n")


def _switch(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "yes", "true"):
        return True
    if value in ("", "0", "no", "false"):
        return False
    raise argparse.ArgumentTypeError(
        f"{text!r}: give 1 (or yes, true) for the functions' log lines, or 0 (or no, false, nothing) for "
        "the runner's own lines only"
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


def _earlier_exports_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_EARLIER_EXPORTS:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number from 0 to {MAX_EARLIER_EXPORTS}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m localdev.run", description=__doc__.splitlines()[0])
    parser.add_argument("--event", type=Path, default=DEFAULT_EVENT, help="trigger event (JSON file)")
    parser.add_argument(
        "--follow", metavar="JOB_ID", help="follow this running IMS export job to its end (real cloud only)"
    )
    parser.add_argument("--image", help="with --follow: the job's image, when IMS does not name it")
    parser.add_argument("--bucket-url", help="with --follow: the job's bucket:object, for the outcome")
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        help="give up waiting after this many seconds (the export goes on); default: until it ends "
        f"(the emulator: {EMULATOR_HANG_GUARD_SECONDS:.0f} s, a hang guard)",
    )
    parser.add_argument(
        "--heartbeat",
        type=_positive_seconds,
        default=DEFAULT_HEARTBEAT_SECONDS,
        help="seconds between the progress lines of a real wait (default %(default).0f)",
    )
    parser.add_argument(
        "--verbose",
        nargs="?",
        const=True,
        default=False,
        type=_switch,
        help="show the functions' log lines (also --verbose=1, yes, true; 0, no, false or nothing: not)",
    )
    parser.add_argument(
        "--earlier-exports",
        type=_earlier_exports_count,
        default=0,
        metavar="N",
        help="the emulator only: put N earlier exports of the event's image into the bucket first, one a "
        "day older each, named by EXPORT_OBJECT_PATTERN (with RETENTION_COUNT, watch retention delete)",
    )
    parser.add_argument(
        "--via", choices=VIA_CHOICES, default="direct", help="smn: post the file as the SMN endpoint's body"
    )
    parser.add_argument(
        "--obs-notifications",
        choices=OBS_NOTIFICATION_CHOICES,
        default=OBS_NOTIFICATION_CHOICES[0],
        help="with WAKE_ON_OBS_NOTIFICATION on the emulator: deliver the OBS notification of the exported "
        "object (delivered), or lose it, so that polling sees the end (lost)",
    )
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM: the run ends as on Ctrl-C (its document, what goes on in the cloud), with its own status."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """The CLI: exit 0 succeeded, 1 failed, 2 refused, 124 gave up (TIMEOUT), 130 interrupted (143 on
    SIGTERM); stdout holds one JSON document of the ending (``localdev/result.py``), the last stderr line
    says what happened in words; no traceback for anything a user can cause."""
    watch = RunWatch(sys.stderr)
    restore_interrupts()
    in_main_thread = threading.current_thread() is threading.main_thread()
    earlier_sigterm = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _main(argv, watch)
    finally:
        if earlier_sigterm is not None:
            signal.signal(signal.SIGTERM, earlier_sigterm)


def _main(argv: list[str] | None, watch: RunWatch) -> int:
    try:
        args = _parser().parse_args(argv)
        watch.heartbeat_seconds = args.heartbeat
        return _run(args, watch)
    except KeyboardInterrupt as interrupted:
        watch.cancel()
        code = EXIT_TERMINATED if isinstance(interrupted, Terminated) else EXIT_INTERRUPTED
        return _ended(watch, code, "INTERRUPTED", "Interrupted", watch.interrupted())
    except TimeoutError as error:
        if watch.timeout is None:  # not the wait's own limit: a timeout somewhere else broke the run
            return _ended(
                watch, EXIT_FAILED, "FAILED", "RunBroke", f"error: the run broke: {error} {_LOGS_HINT}"
            )
        return _ended(watch, EXIT_GAVE_UP, "TIMED_OUT", "GaveUp", watch.gave_up(watch.timeout))
    except (RunError, NoMatchingTriggerError) as error:
        return _ended(watch, EXIT_REFUSED, "REFUSED", "RunRefused", f"refused: {error}")
    except RunInterrupted:  # pragma: no cover - only a cancelled wait raises it, and only after Ctrl-C
        return _ended(watch, EXIT_INTERRUPTED, "INTERRUPTED", "Interrupted", watch.interrupted())
    except Exception as error:  # the CLI's promise: one line, never a traceback
        if isinstance(error.__context__ or error.__cause__, KeyboardInterrupt):
            # Ctrl-C inside a library that turned it into its own error (pydantic's schema build, say)
            watch.cancel()
            return _ended(watch, EXIT_INTERRUPTED, "INTERRUPTED", "Interrupted", watch.interrupted())
        message = f"error: the run broke: {type(error).__name__}: {error} {_LOGS_HINT}"
        return _ended(watch, EXIT_FAILED, "FAILED", type(error).__name__, message)


_LOGS_HINT = "(VERBOSE=1 shows the functions' logs)"


def _ended(watch: RunWatch, code: int, status: str, error: str, sentence: str) -> int:
    """An ending of the run itself: its sentence on stderr, its document on stdout."""
    _say(sys.stderr, sentence)
    print(json.dumps(local_document(status, error=error, message=sentence, **watch.known()), indent=2))
    return code


def _run(args: argparse.Namespace, watch: RunWatch) -> int:
    use_layer_on_path()
    isolate_from_aws()
    quiet_libraries()
    event: Any
    if args.follow is not None:
        if not args.follow.strip():
            raise RunError("make follow needs JOB=<job id> (the id a run printed, or the console shows)")
        if not wants_real_cloud(os.environ):
            raise RunError(
                "following a job needs the real cloud: set OS_CLOUD (clouds.yaml) or OS_AUTH_URL and the "
                "other OS_* variables (the built-in emulator's jobs end with each run)"
            )
        event = FollowRequest(args.follow.strip(), args.image, args.bucket_url)
    else:
        try:
            text = args.event.read_text(encoding="utf-8")
            event = text if args.via == "smn" else json.loads(text)
        except OSError as error:
            raise RunError(f"cannot read event file {args.event}: {error.strerror or error}") from None
        except ValueError as error:
            raise RunError(
                f"event file {args.event} is not JSON ({error}): give a JSON object such as "
                "events/manual.json, or VIA=smn for a raw SMN body"
            ) from None
        watch.image_id = _event_image_id(event)
    overrides = user_parameters(os.environ)
    settings = user_settings(os.environ)
    for name in (*settings, "IMS_EXPORT_SETTINGS"):
        os.environ.pop(name, None)  # they reach the functions through the Settings parameter only
    overrides.setdefault("LogLevel", "DEBUG" if args.verbose else "WARNING")

    def run(target: CloudTarget, timeout: float) -> ExecutionResult:
        watch.timeout = timeout
        return run_workflow(
            event,
            target,
            overrides=overrides,
            settings=settings,
            timeout=timeout,
            watch=watch,
            via=args.via,
            obs_notifications=args.obs_notifications,
            before_start=emulator_demo_step(args.earlier_exports, event, target),
        )

    with function_logs(sys.stderr if args.verbose else None):
        if wants_real_cloud(os.environ):
            watch.real_cloud = True
            target = real_cloud_target(os.environ, on_wait=watch.real_wait)
            result = run(target, args.timeout or float("inf"))
        else:
            with emulated_cloud() as target:
                overrides.setdefault("ExportBucket", EMULATOR_BUCKET)
                result = run(target, args.timeout or EMULATOR_HANG_GUARD_SECONDS)
    output = result_document(result)
    _say(sys.stderr, f"execution {result.status}" + (f": {result.error}" if result.error else ""))
    print(json.dumps(output, indent=2))
    fleet_line = fleet_summary_line(output)
    _say(sys.stderr, one_line(fleet_line or closing_sentence(result.status, output, image_id=watch.image_id)))
    if result.status != "SUCCEEDED":
        # An input the start step refused made no cloud call: that is a refusal, as docs/local-runs.md says.
        return EXIT_REFUSED if result.error == "InvalidRequestError" else EXIT_FAILED
    if isinstance(output, Mapping) and output.get("status") == "REFUSED":  # SMN: the execution succeeds
        return EXIT_REFUSED
    # A fleet whose run succeeded may still have failed images: a script must see that.
    return EXIT_FAILED if fleet_line and output.get("failed_count") else EXIT_SUCCEEDED


def _event_image_id(event: Any) -> str | None:
    """The image an event names, for the closing sentence of a run that failed before naming it."""
    if not isinstance(event, Mapping):
        return None
    detail = event.get("detail")
    for source in (event, detail if isinstance(detail, Mapping) else {}):
        for key in ("image_id", "resource_id"):
            if isinstance(source.get(key), str):
                return str(source[key])
    return None


def plant_earlier_exports(
    control: Control, order: ExportOrder, settings: Settings, *, count: int
) -> list[str]:
    """Put ``count`` objects into the bucket as earlier exports of the order's image would have left
    them: named as the start step names this order's object (same renderer, pattern, bucket and
    format), each at a time one, two, ... days before the order's own (the object names carry it),
    and last modified then. Returns their bucket_urls, oldest first (``check_earlier_exports_pattern``
    keeps them distinct)."""
    from ims_export.domain.export_request import split_bucket_url
    from ims_export.triggers.orders import build_export_request

    if order.bucket_url:
        raise RunError(
            f"EARLIER_EXPORTS: the event names its own object ({order.bucket_url}), and retention retires "
            "only exports named by EXPORT_OBJECT_PATTERN: use an event without bucket_url, "
            "such as events/image-created.json"
        )
    try:
        image_name = str(control.image(order.image_id).get("name") or "")
    except KeyError:
        raise RunError(f"EARLIER_EXPORTS: the emulator has no image {order.image_id}") from None
    now = datetime.fromtimestamp(control.now(), UTC)
    reference = order.requested_at or now
    reference = reference if reference.tzinfo else reference.replace(tzinfo=UTC)
    planted: list[str] = []
    for days in range(count, 0, -1):
        exported_at = reference - timedelta(days=days)
        earlier = order.model_copy(update={"requested_at": exported_at})
        bucket_url = build_export_request(
            earlier, image_name=image_name, settings=settings, now=now
        ).bucket_url
        bucket, name = split_bucket_url(bucket_url)
        age = max((now - exported_at).total_seconds(), 0.0)
        control.obs.plant_object(bucket, name, size_bytes=1024, age_seconds=age, image_id=order.image_id)
        if bucket_url not in planted:
            planted.append(bucket_url)
    return planted


def emulator_demo_step(
    earlier_exports: int, event: Any, target: CloudTarget
) -> Callable[[LocalDeployment], object] | None:
    """What the emulator shows off before the execution starts (after the run's first line, and
    only once the run is not refused): earlier exports to retire, throttled export calls of a fleet."""
    plant = earlier_exports_step(earlier_exports, event, target)
    control = target.control
    if control is None or not is_fleet_input(event):
        return plant

    def throttle(deployment: LocalDeployment) -> None:
        if plant is not None:  # pragma: no cover - a fleet input is refused by earlier_exports_step
            plant(deployment)
        control.inject("export", "flow_control", times=FLEET_DEMO_THROTTLES)
        _say(sys.stderr, f"emulator: the next {FLEET_DEMO_THROTTLES} export calls are throttled")

    return throttle


def check_earlier_exports_pattern(pattern: str) -> None:
    """EARLIER_EXPORTS plants exports a day apart for retention to retire: the pattern must tell them
    apart (a date) and name the image (retention's candidates carry its id)."""
    from ims_export.domain.naming import pattern_fields

    fields = pattern_fields(pattern)
    lacking = [
        what
        for what, present in (
            ("{date} or {timestamp} (exports a day apart must get distinct names)", fields & set(DAY_FIELDS)),
            ("{image_id} (retention retires only names carrying the image id)", "image_id" in fields),
        )
        if not present
    ]
    if lacking:
        raise RunError(
            f"EARLIER_EXPORTS needs an EXPORT_OBJECT_PATTERN with {' and '.join(lacking)}; "
            f"{pattern!r} has not: unset EXPORT_OBJECT_PATTERN or add them"
        )


def earlier_exports_step(
    count: int, event: Any, target: CloudTarget
) -> Callable[[LocalDeployment], object] | None:
    """--earlier-exports as the run's ``before_start`` step; RunError where it cannot apply."""
    from ims_export.triggers.orders import order_named_by

    if not count:
        return None
    if target.control is None:
        raise RunError(
            "EARLIER_EXPORTS puts objects into the built-in emulator's OBS only: unset OS_CLOUD/OS_AUTH_URL"
        )
    order = order_named_by(event) if isinstance(event, Mapping) else None
    if order is None:
        raise RunError(
            "EARLIER_EXPORTS needs an event that names one image (image_id), not a fleet or an SMN body"
        )
    control = target.control

    def plant(deployment: LocalDeployment) -> None:  # once the deployment's settings are known
        from ims_export.settings import Settings

        settings = Settings.from_env({**os.environ, **deployment.environment})
        check_earlier_exports_pattern(settings.export_object_pattern)
        planted = plant_earlier_exports(control, order, settings, count=count)
        _say(
            sys.stderr,
            f"emulator: {counted(len(planted), 'earlier export')} of image {order.image_id} put into OBS, "
            f"oldest first: {', '.join(planted)}",
        )
        if not settings.retention_count:
            _say(
                sys.stderr,
                "emulator: retention is off (RETENTION_COUNT is 0), so they all stay; "
                f"make run EARLIER_EXPORTS={count} RETENTION_COUNT=2 shows it deleting all but the newest 2",
            )

    return plant


class _Discard(io.TextIOBase):
    """A text stream that keeps nothing."""

    def write(self, text: str) -> int:
        return len(text)


# The logger the layer's modules log under (logging.getLogger(__name__)).
LAYER_LOGGER = "ims_export"


@contextmanager
def function_logs(stream: TextIO | None) -> Iterator[None]:
    """Where the functions' log lines go while the workflow runs: to ``stream`` (--verbose, with the
    progress), or nowhere, so that a plain run shows the runner's own sentences only.

    Both kinds of log line are the functions' CloudWatch output in Lambda: what Powertools prints to
    stdout (JSON records, and EMF blobs even with metrics disabled), caught here by redirecting stdout
    while the handlers are imported, since Powertools binds the stream then; and the layer modules'
    standard logging, which would otherwise reach stderr through logging's last-resort handler. The
    final JSON is printed after this block: stdout then carries it alone."""
    if stream is not None:
        with redirect_stdout(stream):
            yield
        return
    layer_logger = logging.getLogger(LAYER_LOGGER)
    discard = logging.NullHandler()
    propagates = layer_logger.propagate
    layer_logger.addHandler(discard)
    layer_logger.propagate = False
    try:
        with redirect_stdout(_Discard()):  # never closed: a handler keeps it as long as its module
            yield
    finally:
        layer_logger.removeHandler(discard)
        layer_logger.propagate = propagates


def emulator_target(emulator: Emulator, clock: ManualClock, description: str | None = None) -> CloudTarget:
    """The cloud target of a running emulator whose clock the state machine's waits advance."""
    config = emulator.config
    return CloudTarget(
        description=description or f"built-in emulator at {emulator.base_url}",
        parameters={"CloudRegion": config.region},
        settings={
            "IAM_ENDPOINT": emulator.iam_url,
            "IMS_ENDPOINT": emulator.base_url,
            "OBS_ENDPOINT": emulator.obs_url,
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
