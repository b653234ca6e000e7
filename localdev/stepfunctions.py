"""Run a real ``.asl.json`` definition in moto's Step Functions interpreter, in this process.

Two patches make moto's interpreter usable offline and fast:

1. Lambda without Docker: moto's ``LambdaFunction._invoke_lambda`` calls the real handler module here,
   with the event and a fake context. A raised exception becomes ``{"errorType", "errorMessage"}``
   with ``FunctionError`` set, so Retry/Catch see the exception's class name, as on AWS.
2. No real sleeping: Wait states and Retry intervals call ``on_wait(seconds)`` instead (a test
   records, a local runner advances an emulator clock); every wait is recorded in ``waits``. A callback
   task (``.waitForTaskToken``) calls ``on_callback(seconds)`` first, which may send its token (a test or
   the local runner delivers a notification then); a token not sent by then is a wait that ran its whole
   ``TimeoutSeconds`` (recorded as a ``callback`` wait, ``States.Timeout``).

The rest are fidelity fixes where moto differs from AWS. Each imitates behaviour AWS documents or that
was recorded against AWS (LocalStack's AWS-validated snapshots); ``docs/engines.md`` lists them with
their sources, and the second engine (``localdev/second_engine``) runs the same definitions without them:

3. ``$$.Execution.StartTime`` as AWS writes it, ``2026-12-07T00:41:33.872Z`` (the Step Functions
   context object documentation; moto hands over a ``datetime``).
4. ``aws-sdk`` requests as AWS builds them from the task's parameters: a blob member that is not bytes
   (S3 ``putObject``'s ``Body``) is stored as its JSON, so a string is stored with its quotes and an
   array as the array (LocalStack's AWS-recorded snapshot ``test_s3_put_object``; moto sends a string
   raw and fails on an array).
5. ``aws-sdk`` responses as AWS returns them, JSON (S3 ``getObject``'s ``Body`` as text, times as ISO
   strings), where moto returns boto3's objects.
6. The ``states:startExecution`` integration's ``StateMachineArn``/``Input``/``Name`` mapped to the API's
   casing and its answer back (``ExecutionArn``, and ``Output``/``Status``/``StopDate`` of ``.sync:2``),
   as the Step Functions service integration documentation shows them.
7. A Distributed Map's ``ResultWriter`` writes the children's results (``SUCCEEDED_0.json``) and lists
   them in its manifest, as the ResultWriter documentation describes (moto writes the manifest only).
   moto keeps only the children's outputs, so its records carry ``Output`` and ``Status``, not ``Input``.
8. ``States.ALL`` catches neither ``States.Runtime`` nor ``States.DataLimitExceeded``, and no Retry or
   Catch catches ``States.Runtime`` (the error handling documentation); moto catches both, so a
   definition could rely on what AWS does not do.
9. A ``SendTaskSuccess`` for a callback task that has ended (woken or timed out) is refused with
   ``TaskTimedOut``, as the API reference describes ("the task associated with the token has already
   been closed"); moto accepts it while the execution runs, and raises its callback errors without the
   message their class needs; and it looks a token up in an execution that has only just started, which
   fails (``localdev/moto_callbacks.py``).

The fidelity fixes live in ``localdev/moto_fidelity.py``; the resources and the observation of runs in
``localdev/aws_world.py`` (shared with the second engine). Given a ``mock_config`` (AWS Step Functions
Local's format), executions started with a ``test_case`` have their mocked states answered from it, as
the second engine answers them: a replay of recorded answers on both engines.

Usage (``load_handler`` is ``localdev/lambda_handlers.py``'s)::

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

import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from localdev.aws_world import ACCOUNT_ID, REGION, AwsWorld, ExecutionResult, substitute
from localdev.lambda_handlers import FakeLambdaContext, Handler, placeholder_code_package
from localdev.moto_fidelity import fidelity_patches, mock_answer_patches

__all__ = [
    "ACCOUNT_ID",
    "REGION",
    "ExecutionResult",
    "Invocation",
    "LocalWorkflow",
    "WaitRecord",
    "substitute",
]

MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    # The Docker-backed Lambda model is used, but its invocation is replaced by an in-process call.
    "lambda": {"use_docker": True},
}


@dataclass(frozen=True)
class WaitRecord:
    kind: str  # "wait" (a Wait state), "retry" (a Retry interval), "callback" (a task token's wait)
    seconds: float


@dataclass(frozen=True)
class Invocation:
    function: str
    event: Any
    result: Any = None
    error: str | None = None
    message: str | None = None


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


def _callback_without_sleeping(original: Callable[..., Any]) -> Callable[..., Any]:
    """A ``.waitForTaskToken`` task's wait, without sleeping; the token thread of a ``.sync`` task (which
    ends when the job does, not on a token) waits as moto has it."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )

    def wait(task: Any, timeout_seconds: int, callback_endpoint: Any) -> Any:
        if task.resource.condition != ResourceCondition.WaitForTaskToken:
            return original(task, timeout_seconds, callback_endpoint)
        return _require_active().wait_for_callback(callback_endpoint, timeout_seconds)

    return wait


class LocalWorkflow(AwsWorld):
    """A state machine created in moto from a definition file, with the handlers running in process."""

    def __init__(
        self,
        definition_path: str | Path,
        substitutions: Mapping[str, str] | None = None,
        *,
        handlers: Mapping[str, Handler] | None = None,
        environment: Mapping[str, str] | None = None,
        on_wait: Callable[[float], object] | None = None,
        on_callback: Callable[[float], object] | None = None,
        event_buses: Sequence[str] = (),
        topics: Sequence[str] = (),
        execution_timeout_seconds: int | None = None,
        name: str = "ims-export",
        state_machines: Mapping[str, tuple[str | Path, Mapping[str, str]]] | None = None,
        buckets: Sequence[str] = (),
        tables: Sequence[str] = (),
        mock_config: Mapping[str, Any] | None = None,
        machine_test_cases: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            definition_path,
            substitutions,
            functions=list(handlers or {}),
            event_buses=event_buses,
            topics=topics,
            buckets=buckets,
            tables=tables,
            execution_timeout_seconds=execution_timeout_seconds,
            name=name,
            state_machines=state_machines,
            machine_test_cases=machine_test_cases,
        )
        self.handlers = dict(handlers or {})
        self.environment = dict(environment or {})
        self.on_wait = on_wait
        self.on_callback = on_callback
        self.mock_config = mock_config
        self.waits: list[WaitRecord] = []
        self.invocations: list[Invocation] = []
        self._mock: Any = None
        self._restore: list[Callable[[], None]] = []
        self._saved_environment: dict[str, str | None] = {}

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
            self._create_functions()
            self.create_resources()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        global _active  # noqa: PLW0603
        try:
            if self.sfn is not None:
                # Ends background executions before the patches go, so that none of them really sleeps.
                for arn in self.running_executions():
                    self._stop_execution(arn)
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
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
            StateTaskServiceCallback,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )

        self._replace(LambdaFunction, "_invoke_lambda", _invoke_in_process)
        self._replace(WaitFunction, "_wait_interval", _wait_without_sleeping)
        self._replace(retrier_decl, "time", SimpleNamespace(sleep=_retry_without_sleeping))
        self._replace(
            StateTaskServiceCallback,
            "_wait_for_task_token_timeout",
            _callback_without_sleeping(StateTaskServiceCallback._wait_for_task_token_timeout),
        )
        for owner, attribute, replacement in fidelity_patches():
            self._replace(owner, attribute, replacement)
        if self.mock_config is not None:
            for owner, attribute, replacement in mock_answer_patches(self.mock_config):
                self._replace(owner, attribute, replacement)

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

    def _create_functions(self) -> None:
        role_arn = self.client("iam").create_role(
            RoleName=f"{self.name}-functions",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        lambda_client = self.client("lambda")
        for function in self.handlers:
            lambda_client.create_function(
                FunctionName=function,
                Runtime="python3.13",
                Role=role_arn,
                Handler="app.lambda_handler",
                Code={"ZipFile": placeholder_code_package()},
                Environment={"Variables": self.environment},
                Timeout=60,
            )

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
            self.invocations.append(
                Invocation(function, event, error=type(error).__name__, message=str(error))
            )
            payload = {"errorType": type(error).__name__, "errorMessage": str(error)}
            return json.dumps(payload), True, ""
        self.invocations.append(Invocation(function, event, result=result))
        return json.dumps(result), False, ""

    def wait_for_callback(self, endpoint: Any, timeout_seconds: float) -> Any:
        """The outcome a callback task's token was sent (None: it timed out, after the whole wait)."""
        from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackConsumerTimeout

        if self.on_callback is not None:
            self.on_callback(float(timeout_seconds))
        outcome = endpoint.wait(timeout=0)
        # The task is closed now, whatever ended it: a token sent later gets TaskTimedOut, as on AWS.
        endpoint.consumer_error = CallbackConsumerTimeout()
        if outcome is None:
            self.record_wait("callback", timeout_seconds)
        return outcome

    def record_wait(self, kind: str, seconds: float) -> None:
        self.waits.append(WaitRecord(kind, float(seconds)))
        if self.on_wait is not None:
            self.on_wait(float(seconds))
