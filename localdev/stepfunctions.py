"""Run a real ``.asl.json`` definition in moto's Step Functions interpreter, in this process.

Two patches make moto's interpreter usable offline and fast:

1. Lambda without Docker: moto's ``LambdaFunction._invoke_lambda`` calls the real handler module here,
   with the event and a fake context. A raised exception becomes ``{"errorType", "errorMessage"}``
   with ``FunctionError`` set, so Retry/Catch see the exception's class name, as on AWS.
2. No real sleeping: Wait states and Retry intervals call ``on_wait(seconds)`` instead (a test
   records, a local runner advances an emulator clock); every wait is recorded in ``waits``.

Plus fidelity fixes where moto differs from AWS: ``$$.Execution.StartTime`` is a ``datetime`` instead
of an ISO 8601 string (``States.JsonToString`` of a payload holding it would fail); the
``states:startExecution`` integration passes ``StateMachineArn``/``Input``/``Name`` to boto3 unconverted
(and returns boto3's ``executionArn``), which breaks continue-as-new; ``aws-sdk`` integrations return
boto3's response (S3 ``getObject``'s ``Body`` a stream, times as ``datetime``) where AWS returns JSON
(the body as text); and a Distributed Map's ``ResultWriter`` writes a manifest that lists no result
files, where AWS writes the children's results (``SUCCEEDED_0.json``) and lists them. moto keeps only
the children's outputs, so its records carry ``Output`` and ``Status``, not ``Input``.

Usage::

    with LocalWorkflow("statemachine/export.asl.json", {"EventBusName": "bus"},
                       handlers={"StartExportFunction": load_handler("functions/start_export/app.py")},
                       event_buses=["bus"]) as workflow:
        result = workflow.wait_for(workflow.start_execution({"image_id": "..."}))

Each handler name becomes a Lambda function; ``${<name>Arn}`` in the definition is replaced by its ARN.
Further state machines (``state_machines={"ExportStateMachine": (path, substitutions)}``) are created
first, their ARNs offered as ``${<name>Arn}`` too: a parent's ``states:startExecution.sync:2`` tasks run
them as child executions, which moto polls every ``SYNC_POLL_SECONDS`` instead of every half second.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import os
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REGION = "eu-central-1"
ACCOUNT_ID = "123456789012"  # moto's default account
Handler = Callable[[Any, Any], Any]
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    # The Docker-backed Lambda model is used, but its invocation is replaced by an in-process call.
    "lambda": {"use_docker": True},
}
_PLACEHOLDER_PREFIX = "${"
SYNC_POLL_SECONDS = 0.01


@dataclass(frozen=True)
class WaitRecord:
    kind: str  # "wait" (a Wait state) or "retry" (a Retry interval)
    seconds: float


@dataclass(frozen=True)
class Invocation:
    function: str
    event: Any
    result: Any = None
    error: str | None = None


@dataclass(frozen=True)
class ExecutionResult:
    arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True)
class FakeLambdaContext:
    """What Powertools reads from a Lambda context."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


_handler_modules: dict[Path, Any] = {}


def load_function_module(path: str | Path) -> Any:
    """The module of ``functions/<name>/app.py`` (all named app.py), loaded once under a unique name."""
    resolved = Path(path).resolve()
    module = _handler_modules.get(resolved)
    if module is None:
        digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
        name = f"lambda_{resolved.parent.name}_{digest}"
        spec = importlib.util.spec_from_file_location(name, resolved)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load a handler from {resolved}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _handler_modules[resolved] = module
    return module


def load_handler(path: str | Path, attribute: str = "lambda_handler") -> Handler:
    """The handler function of a function module (see ``load_function_module``)."""
    handler: Handler = getattr(load_function_module(path), attribute)
    return handler


def substitute(definition: str, substitutions: Mapping[str, str]) -> str:
    """Replace ``${Name}`` as SAM's DefinitionSubstitutions do; an unreplaced placeholder is an error."""
    for name, value in substitutions.items():
        definition = definition.replace(f"${{{name}}}", value)
    if _PLACEHOLDER_PREFIX in definition:
        start = definition.index(_PLACEHOLDER_PREFIX)
        raise ValueError(f"no substitution for {definition[start : definition.index('}', start) + 1]}")
    return definition


_active: LocalWorkflow | None = None
_active_lock = threading.Lock()


def _require_active() -> LocalWorkflow:
    if _active is None:  # pragma: no cover - the patches are only installed while one is active
        raise RuntimeError("no LocalWorkflow is active")
    return _active


_INVOCATION_LOCK = threading.Lock()


def _invoke_in_process(function: Any, event: Any = None) -> tuple[str, bool, str]:
    return _require_active().invoke(function.function_name, event)


def _wait_without_sleeping(_wait_function: Any, env: Any, wait_seconds: int) -> None:
    _require_active().record_wait("wait", wait_seconds)


def _retry_without_sleeping(seconds: float) -> None:
    _require_active().record_wait("retry", seconds)


def _as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "read"):  # a StreamingBody: AWS hands the body over as text
        return value.read().decode("utf-8")
    return value


def _aws_sdk_response_as_json(original: Callable[..., Any]) -> Callable[..., Any]:
    def eval_service_task(service: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original(service, env, *args, **kwargs)
        env.stack[-1] = _as_json(env.stack[-1])

    return eval_service_task


def _write_map_run_results(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
    """The ResultWriter's ``s3:putObject``, as AWS does it: the children's results in a result file,
    listed in the manifest (moto writes the manifest only)."""
    import boto3

    parameters = env.stack.pop()
    results = env.stack.pop()
    map_run_arn = env.map_run_record_pool_manager.get_all()[-1].map_run_arn
    prefix = parameters.get("Prefix", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    folder = f"{prefix}{map_run_arn.split(':')[-1]}/"
    s3 = boto3.client("s3", region_name=REGION)
    records = [
        {"ExecutionArn": f"{map_run_arn}:{index}", "Output": json.dumps(result), "Status": "SUCCEEDED"}
        for index, result in enumerate(results or [])
    ]
    body = json.dumps(records).encode()
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    if records:
        s3.put_object(Bucket=parameters["Bucket"], Key=f"{folder}SUCCEEDED_0.json", Body=body)
        files["SUCCEEDED"].append({"Key": f"{folder}SUCCEEDED_0.json", "Size": len(body)})
    manifest = {"DestinationBucket": parameters["Bucket"], "MapRunArn": map_run_arn, "ResultFiles": files}
    key = f"{folder}manifest.json"
    s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=json.dumps(manifest).encode())
    env.stack.append(
        {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": parameters["Bucket"], "Key": key}}
    )


def _iso_start_time(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def start_execution_details(execution: Any) -> Any:
        details = original(execution)
        if isinstance(details.start_time, datetime):
            details.start_time = details.start_time.isoformat()
        return details

    return start_execution_details


@functools.cache
def _operation_model(service: str, action: str) -> Any:
    import botocore.session

    operation = "".join(part.capitalize() for part in action.split("_"))
    return botocore.session.get_session().get_service_model(service).operation_model(operation)


def _sfn_integration_casing(original_parameters: Any, original_response: Any) -> tuple[Any, Any]:
    """Map the integration's ``StateMachineArn`` to boto3's ``stateMachineArn`` and back, as AWS does
    (also for the DescribeExecution result of ``.sync:2``: ``Output``, ``Status``, ``StopDate``)."""

    def normalise_parameters(service: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_parameters(service, parameters, *args, **kwargs)
        model = _operation_model(service._get_boto_service_name(), service._get_boto_service_action())
        service._to_boto_request(parameters, model.input_shape)

    def normalise_response(service: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        original_response(service, response, *args, **kwargs)
        # The .sync/.sync:2 patterns normalise a DescribeExecution response (service_action_name).
        action = service._get_boto_service_action(kwargs.get("service_action_name"))
        model = _operation_model(service._get_boto_service_name(), action)
        service._from_boto_response(response, model.output_shape)
        if isinstance(response, dict):
            for key, value in response.items():
                if isinstance(value, datetime):
                    response[key] = value.isoformat()

    return normalise_parameters, normalise_response


class LocalWorkflow:
    """A state machine created in moto from a definition file, with the handlers running in process."""

    def __init__(
        self,
        definition_path: str | Path,
        substitutions: Mapping[str, str] | None = None,
        *,
        handlers: Mapping[str, Handler] | None = None,
        environment: Mapping[str, str] | None = None,
        on_wait: Callable[[float], object] | None = None,
        event_buses: Sequence[str] = (),
        topics: Sequence[str] = (),
        execution_timeout_seconds: int | None = None,
        name: str = "ims-export",
        state_machines: Mapping[str, tuple[str | Path, Mapping[str, str]]] | None = None,
        buckets: Sequence[str] = (),
    ) -> None:
        self.definition_path = Path(definition_path)
        self.substitutions = dict(substitutions or {})
        self.handlers = dict(handlers or {})
        self.environment = dict(environment or {})
        self.on_wait = on_wait
        self.event_buses = list(event_buses)
        self.topics = list(topics)
        self.buckets = list(buckets)
        self.execution_timeout_seconds = execution_timeout_seconds
        self.name = name
        self.waits: list[WaitRecord] = []
        self.invocations: list[Invocation] = []
        self.state_machine_arn = self.machine_arn(name)
        self.state_machines = {
            machine: (Path(path), dict(values)) for machine, (path, values) in (state_machines or {}).items()
        }
        self._collected_events: dict[str, list[Any]] = {bus: [] for bus in self.event_buses}
        self._collected_messages: dict[str, list[Any]] = {topic: [] for topic in self.topics}
        self._mock: Any = None
        self.sfn: Any = None
        self._bus_queues: dict[str, str] = {}
        self._topic_queues: dict[str, str] = {}
        self._restore: list[Callable[[], None]] = []
        self._saved_environment: dict[str, str | None] = {}

    # --- addresses -----------------------------------------------------------------------------

    @staticmethod
    def function_arn(function: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}"

    @staticmethod
    def machine_arn(name: str) -> str:
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"

    @staticmethod
    def topic_arn(topic: str) -> str:
        return f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{topic}"

    # --- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> LocalWorkflow:
        global _active  # noqa: PLW0603 - moto's classes are patched process-wide
        from moto import mock_aws

        with _active_lock:
            if _active is not None:
                raise RuntimeError("only one LocalWorkflow can be active at a time")
            _active = self
        try:
            self._mock = mock_aws(config=MOTO_CONFIG)
            self._mock.start()
            self._patch()
            self._set_environment()
            self._create_resources()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        global _active  # noqa: PLW0603
        try:
            if self.sfn is not None:
                self._stop_running_executions()
        finally:
            for restore in reversed(self._restore):
                restore()
            self._restore.clear()
            for key, value in self._saved_environment.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self._saved_environment.clear()
            if self._mock is not None:
                self._mock.stop()
                self._mock = None
            with _active_lock:
                _active = None

    def _patch(self) -> None:
        from moto.awslambda.models import LambdaFunction
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
            resource_eval_s3,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_aws_sdk,
            state_task_service_callback,
            state_task_service_sfn,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )
        from moto.stepfunctions.parser.backend.execution import Execution

        self._replace(LambdaFunction, "_invoke_lambda", _invoke_in_process)
        self._replace(WaitFunction, "_wait_interval", _wait_without_sleeping)
        self._replace(retrier_decl, "time", SimpleNamespace(sleep=_retry_without_sleeping))
        original_details = Execution.__dict__["get_start_execution_details"]
        self._replace(Execution, "get_start_execution_details", _iso_start_time(original_details))
        sfn_service = state_task_service_sfn.StateTaskServiceSfn
        parameters, response = _sfn_integration_casing(
            sfn_service._normalise_parameters, sfn_service._normalise_response
        )
        self._replace(sfn_service, "_normalise_parameters", parameters)
        self._replace(sfn_service, "_normalise_response", response)
        self._replace(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", SYNC_POLL_SECONDS)
        aws_sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
        self._replace(aws_sdk, "_eval_service_task", _aws_sdk_response_as_json(aws_sdk._eval_service_task))
        self._replace(
            resource_eval_s3.ResourceEvalS3, "_handle_put_object", staticmethod(_write_map_run_results)
        )

    def _replace(self, owner: Any, attribute: str, replacement: Any) -> None:
        # A moto upgrade that renames what we patch must fail here, not silently run with real sleeps.
        if not hasattr(owner, attribute):
            raise RuntimeError(
                f"moto changed: {getattr(owner, '__name__', owner)!r} has no {attribute!r} to patch;"
                " update localdev/stepfunctions.py for this moto version"
            )
        if attribute in vars(owner):
            original = vars(owner)[attribute]
            self._restore.append(lambda: setattr(owner, attribute, original))
        else:  # inherited: removing the replacement restores it
            self._restore.append(lambda: delattr(owner, attribute))
        setattr(owner, attribute, replacement)

    def _set_environment(self) -> None:
        for key, value in self.environment.items():
            self._saved_environment[key] = os.environ.get(key)
            os.environ[key] = value

    def _create_resources(self) -> None:
        import boto3

        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role_arn = iam.create_role(
            RoleName=f"{self.name}-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        lambda_client = boto3.client("lambda", region_name=REGION)
        for function in self.handlers:
            lambda_client.create_function(
                FunctionName=function,
                Runtime="python3.13",
                Role=role_arn,
                Handler="app.lambda_handler",
                Code={"ZipFile": _placeholder_zip()},
                Environment={"Variables": self.environment},
                Timeout=60,
            )
        self._capture_buses()
        self._capture_topics()
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in self.buckets:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        functions = {f"{function}Arn": self.function_arn(function) for function in self.handlers}
        machines = {f"{machine}Arn": self.machine_arn(machine) for machine in self.state_machines}
        for machine, (path, values) in self.state_machines.items():
            self._create_state_machine(machine, path, {**functions, **values}, role_arn)
        self._create_state_machine(
            self.name, self.definition_path, {**functions, **machines, **self.substitutions}, role_arn
        )

    def _create_state_machine(
        self, name: str, path: Path, substitutions: Mapping[str, str], role_arn: str
    ) -> None:
        definition = substitute(path.read_text(encoding="utf-8"), substitutions)
        if self.execution_timeout_seconds is not None:
            document = json.loads(definition)
            document["TimeoutSeconds"] = self.execution_timeout_seconds
            definition = json.dumps(document)
        self.sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)

    def _capture_buses(self) -> None:
        import boto3

        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        for bus in self.event_buses:
            if bus != "default":
                events.create_event_bus(Name=bus)
            queue_url = sqs.create_queue(QueueName=f"capture-bus-{bus}")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
            events.put_rule(
                Name=f"capture-{bus}", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]})
            )
            events.put_targets(
                Rule=f"capture-{bus}",
                EventBusName=bus,
                Targets=[{"Id": "capture", "Arn": queue_arn["Attributes"]["QueueArn"]}],
            )
            self._bus_queues[bus] = queue_url

    def _capture_topics(self) -> None:
        import boto3

        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        for topic in self.topics:
            topic_arn = sns.create_topic(Name=topic)["TopicArn"]
            queue_url = sqs.create_queue(QueueName=f"capture-topic-{topic}")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn["Attributes"]["QueueArn"],
                Attributes={"RawMessageDelivery": "true"},
            )
            self._topic_queues[topic] = queue_url

    def _stop_running_executions(self) -> None:
        # Ends background executions before the patches go, so that none of them really sleeps.
        created = {m["stateMachineArn"] for m in self.sfn.list_state_machines()["stateMachines"]}
        for machine in (self.name, *self.state_machines):
            if self.machine_arn(machine) not in created:
                continue
            for execution in self.executions(machine):
                if execution["status"] == "RUNNING":
                    self._stop_execution(execution["executionArn"])

    def _stop_execution(self, arn: str) -> None:
        # Right after StartExecution moto may not have created the execution's worker yet, and its
        # StopExecution then fails with AttributeError: try again once it exists (a bounded wait).
        for _ in range(500):
            try:
                self.sfn.stop_execution(executionArn=arn)
                return
            except AttributeError:
                time.sleep(0.01)

    # --- what the patches call -----------------------------------------------------------------

    def invoke(self, function: str, event: Any) -> tuple[str, bool, str]:
        """Run ``function``'s handler on ``event`` (moto passes it parsed, or as a JSON string)."""
        if isinstance(event, str | bytes):
            event = json.loads(event) if event else {}
        context = FakeLambdaContext(function_name=function, invoked_function_arn=self.function_arn(function))
        try:
            # One invocation at a time, as in a Lambda execution environment: the handlers share this
            # process's module state (Powertools' metric set, the clients), which Lambda never shares
            # between concurrent invocations. Map iterations run in threads and would interleave.
            with _INVOCATION_LOCK:
                result = self.handlers[function](event, context)
        except Exception as error:
            self.invocations.append(Invocation(function, event, error=type(error).__name__))
            payload = {"errorType": type(error).__name__, "errorMessage": str(error)}
            return json.dumps(payload), True, ""
        self.invocations.append(Invocation(function, event, result=result))
        return json.dumps(result), False, ""

    def record_wait(self, kind: str, seconds: float) -> None:
        self.waits.append(WaitRecord(kind, float(seconds)))
        if self.on_wait is not None:
            self.on_wait(float(seconds))

    # --- driving and observing executions ------------------------------------------------------

    def start_execution(self, execution_input: Any, name: str | None = None) -> str:
        arn: str = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=name or f"local-{uuid.uuid4()}",
            input=json.dumps(execution_input),
        )["executionArn"]
        return arn

    def wait_for(self, arn: str, timeout: float = 600.0) -> ExecutionResult:
        """Poll until the execution ends (moto runs it in a background thread); ``timeout`` guards
        against a hang, it is no budget."""
        deadline = time.monotonic() + timeout
        while True:
            description = self.sfn.describe_execution(executionArn=arn)
            if description["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {arn} still running after {timeout} s")
            time.sleep(0.005)
        output = description.get("output")
        return ExecutionResult(
            arn=arn,
            status=description["status"],
            output=json.loads(output) if output else None,
            error=description.get("error"),
            cause=description.get("cause"),
        )

    def history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"executionArn": arn}
        while True:
            page = self.sfn.get_execution_history(**arguments)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            arguments["nextToken"] = page["nextToken"]

    def executions(self, machine: str | None = None) -> list[dict[str, Any]]:
        """The executions of this state machine, or of the further one named ``machine`` (all pages)."""
        arguments: dict[str, Any] = {"stateMachineArn": self.machine_arn(machine or self.name)}
        listed: list[dict[str, Any]] = []
        while True:
            page = self.sfn.list_executions(**arguments)
            listed.extend(page["executions"])
            if not page.get("nextToken"):
                return listed
            arguments["nextToken"] = page["nextToken"]

    def published_events(self, bus: str) -> list[Any]:
        """Every event put on ``bus`` so far (as EventBridge delivers them to a target)."""
        self._collected_events[bus].extend(self._drain(self._bus_queues[bus]))
        return list(self._collected_events[bus])

    def topic_messages(self, topic: str) -> list[Any]:
        """Every message published to ``topic`` so far (JSON-decoded where possible)."""
        self._collected_messages[topic].extend(self._drain(self._topic_queues[topic]))
        return list(self._collected_messages[topic])

    def _drain(self, queue_url: str) -> Iterator[Any]:
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                try:
                    yield json.loads(message["Body"])
                except ValueError:
                    yield message["Body"]


def _placeholder_zip() -> bytes:
    """moto wants a code package; the code that runs is the in-process handler."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()
