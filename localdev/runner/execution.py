"""One execution of the deployed workflow, run to its end in moto with the real handlers in process:
the event routed as the template's triggers would, the AWS resources created, progress followed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from localdev.apigateway import start_execution_request
from localdev.deployment import LocalDeployment
from localdev.lambda_handlers import load_handler
from localdev.routing import execution_input_for
from localdev.runner.describe import describe_fleet_event
from localdev.runner.environment import deployment_environment
from localdev.runner.errors import RunError
from localdev.runner.follow import FollowRequest, follow_input
from localdev.runner.layout import TEMPLATE
from localdev.runner.parameters import check_bucket_known, deployment_for
from localdev.runner.progress import follow_continuations, progress_printer
from localdev.runner.targets import CloudTarget
from localdev.runner.text import say
from localdev.runner.watch import RunWatch
from localdev.stepfunctions import ExecutionResult, LocalWorkflow

if TYPE_CHECKING:
    from localdev.obs_notifier import ObsNotifier

FLEET_STATE_MACHINE = "FleetStateMachine"
SMN_ROUTE = "POST /smn"
OBS_NOTIFICATION_CHOICES = ("delivered", "lost")  # localdev.obs_notifier's modes


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
    say(stream, f"ims-export local run: {target.description}; event routed by {route}")
    # The handlers' Powertools loggers read their settings and stream when they are imported; the
    # caller's environment is back once the run ended.
    with deployment_environment(deployment.environment):
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
                    notifier.install(
                        clients.settings,
                        workflow,
                        lambda text: say(stream, text),
                        export_machine=deployment.main_state_machine if fleet else None,
                    )
                with runtime.use_clients(clients):
                    name = None
                    if following is not None:
                        name, execution_input = follow_input(following, clients)
                    arn = workflow.start_execution(execution_input, name=name)
                    say(stream, f"execution {arn}")
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
            say(stream, token_cache_status(deployment))
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
