"""Where moto's Step Functions interpreter differs from AWS, the behaviour AWS documents or that was
recorded against AWS, patched in (the numbers are those of ``localdev/stepfunctions.py``'s list, and
``docs/engines.md`` gives each one's source); and answers from a mock configuration for a replay.

``fidelity_patches()`` lists the replacements; ``LocalWorkflow`` applies them while it runs and undoes
them after.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from localdev.aws_world import REGION
from localdev.map_results import deterministic_map_run_init, write_results
from localdev.moto_callbacks import callback_patches

Patch = tuple[Any, str, Any]  # (owner, attribute, replacement)


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
    """The ResultWriter's ``s3:putObject``, as AWS does it (``localdev/map_results.py``)."""
    import boto3

    parameters = env.stack.pop()
    results = env.stack.pop()
    map_run_arn = env.map_run_record_pool_manager.get_all()[-1].map_run_arn
    s3 = boto3.client("s3", region_name=REGION)
    env.stack.append(write_results(s3, parameters, map_run_arn, results))


def aws_timestamp(moment: datetime) -> str:
    """A time as Step Functions writes it into the context object: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _aws_start_time(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def start_execution_details(execution: Any) -> Any:
        details = original(execution)
        if isinstance(details.start_time, datetime):
            details.start_time = aws_timestamp(details.start_time)
        return details

    return start_execution_details


def _aws_sdk_request_as_aws(original: Callable[..., Any]) -> Callable[..., Any]:
    """The parameters mapped onto the API's input shape as AWS does: a blob that is not bytes becomes its
    JSON (a string keeps its quotes), a non-string value of a string member its JSON text."""

    def normalise_parameters(service: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original(service, parameters, *args, **kwargs)
        model = _operation_model(service._get_boto_service_name(), service._get_boto_service_action())
        service._to_boto_request(parameters, model.input_shape)

    return normalise_parameters


_UNCATCHABLE_BY_ALL = frozenset({"States.Runtime", "States.DataLimitExceeded"})


def _catch_as_aws(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """ErrorEquals as AWS matches it: States.Runtime is never retried or caught, and States.ALL does not
    match States.DataLimitExceeded either."""

    def eval_body(declaration: Any, env: Any) -> None:
        error_name = getattr(env.stack[-1], "error_name", None)
        original(declaration, env)
        if error_name == "States.Runtime" or (
            error_name in _UNCATCHABLE_BY_ALL
            and error_name not in {getattr(name, "error_name", None) for name in declaration.error_names}
        ):
            env.stack[-1] = False

    return eval_body


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


# moto polls a .sync child execution every half second; the local runs poll every 10 ms.
SYNC_POLL_SECONDS = 0.01


def _path_errors_as_runtime(original: Callable[..., Any]) -> Callable[..., Any]:
    """A JSONPath that is not in a task's input (its Parameters, ItemsPath, ResultSelector) is a
    ``States.Runtime`` error on AWS, which no Catch takes; moto's tasks report it as their own failure."""

    def from_error(state: Any, env: Any, ex: Exception) -> Any:
        from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
            StatesErrorName,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType,
        )
        from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
        from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

        if not isinstance(ex, NoSuchJsonPathError):
            return original(state, env=env, ex=ex)
        cause = (
            f"An error occurred while executing the state '{state.name}'. The JSONPath '{ex.json_path}' "
            f"could not be found in the input '{json.dumps(ex.data)}'"
        )
        runtime = StatesErrorNameType.StatesRuntime
        return FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=runtime),
            event_type=HistoryEventType.TaskFailed,
            event_details=cast(
                EventDetails,
                {"taskFailedEventDetails": TaskFailedEventDetails(error=runtime.to_name(), cause=cause)},
            ),
        )

    return from_error


def _execution_state_classes() -> list[type]:
    """Every state class that runs work (Task, Map, Parallel) and says how its errors read."""
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser  # noqa: F401 - loads them

    found: list[type] = []
    pending: list[type] = [ExecutionState]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [cls for cls in found if "_from_error" in vars(cls)]


def fidelity_patches() -> list[Patch]:
    """The fidelity fixes 3 to 9 as replacements to apply, and map run ids the same on every run
    (``map_results.deterministic_map_run_init``)."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        map_run_record,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
        resource_eval_s3,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_callback,
        state_task_service_sfn,
    )
    from moto.stepfunctions.parser.backend.execution import Execution

    sfn_service = state_task_service_sfn.StateTaskServiceSfn
    sfn_parameters, sfn_response = _sfn_integration_casing(
        sfn_service._normalise_parameters, sfn_service._normalise_response
    )
    aws_sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    return [
        (
            Execution,
            "get_start_execution_details",
            _aws_start_time(Execution.__dict__["get_start_execution_details"]),
        ),
        (aws_sdk, "_normalise_parameters", _aws_sdk_request_as_aws(aws_sdk._normalise_parameters)),
        (aws_sdk, "_eval_service_task", _aws_sdk_response_as_json(aws_sdk._eval_service_task)),
        (sfn_service, "_normalise_parameters", sfn_parameters),
        (sfn_service, "_normalise_response", sfn_response),
        (state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", SYNC_POLL_SECONDS),
        *callback_patches(),
        (resource_eval_s3.ResourceEvalS3, "_handle_put_object", staticmethod(_write_map_run_results)),
        (ErrorEqualsDecl, "_eval_body", _catch_as_aws(ErrorEqualsDecl._eval_body)),
        (
            map_run_record.MapRunRecord,
            "__init__",
            deterministic_map_run_init(map_run_record.MapRunRecord.__init__),
        ),
        *(
            (cls, "_from_error", _path_errors_as_runtime(vars(cls)["_from_error"]))
            for cls in _execution_state_classes()
        ),
    ]


# --- answers from a mock configuration (AWS Step Functions Local's format) -----------------------------
# An execution started on ``<state machine ARN>#<test case>`` has its mocked states answered from the
# configuration, as LocalStack does it: the n-th call of a state in an execution (its retries and its
# loops included) gets the n-th answer. moto carries the same code with its loader switched off, and an
# older counting (by retry number only).

_starting = threading.local()


class MockAnswers:
    """The test cases of a mock configuration, built for moto's interpreter one execution at a time."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def test_case(self, machine: str, case: str) -> Any:
        from moto.stepfunctions.parser.mocking.mock_config import (
            MockedResponseReturn,
            MockedResponseThrow,
            MockTestCase,
            StateMockedResponses,
        )

        try:
            states = self.config["StateMachines"][machine]["TestCases"][case]
        except KeyError:
            raise ValueError(f"no mock test case {case!r} for state machine {machine!r}") from None
        responses = []
        for state, answer_name in states.items():
            answers: list[Any] = []
            for position, answer in sorted(
                self.config["MockedResponses"][answer_name].items(), key=lambda i: int(i[0])
            ):
                if "Return" in answer:
                    answers.append(MockedResponseReturn(int(position), int(position), answer["Return"]))
                else:
                    throw = answer["Throw"]
                    answers.append(
                        MockedResponseThrow(int(position), int(position), throw["Error"], throw["Cause"])
                    )
            responses.append(StateMockedResponses(state, answer_name, answers))
        test_case: Any = MockTestCase(machine, case, responses)
        test_case.calls = {}  # per execution: the frames of its maps share the test case
        test_case.calls_lock = threading.Lock()
        return test_case


def _start_with_test_case(original: Callable[..., Any], answers: MockAnswers) -> Callable[..., Any]:
    def start_execution(backend: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        base_arn, _, case = state_machine_arn.partition("#")
        _starting.test_case = answers.test_case(base_arn.rsplit(":", 1)[-1], case) if case else None
        try:
            return original(backend, base_arn, *args, **kwargs)
        finally:
            _starting.test_case = None

    return start_execution


def _worker_with_test_case(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def start_execution_worker(execution: Any) -> Any:
        worker = original(execution)
        worker._mock_test_case = getattr(_starting, "test_case", None)
        return worker

    return start_execution_worker


def _nth_call_answer(env: Any) -> Any:
    test_case = env.mock_test_case
    state = env.next_state_name
    responses = test_case.state_mocked_responses.get(state)
    if responses is None:
        raise RuntimeError(f"no mocked answer for state {state!r}")
    with test_case.calls_lock:
        call = test_case.calls.get(state, 0)
        test_case.calls[state] = call + 1
    if call >= len(responses.mocked_responses):
        raise RuntimeError(f"no mocked answer for call {call} of state {state!r}")
    return responses.mocked_responses[call]


def mock_answer_patches(config: Mapping[str, Any]) -> list[Patch]:
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    answers = MockAnswers(config)
    return [
        (
            StepFunctionsParserBackend,
            "start_execution",
            _start_with_test_case(StepFunctionsParserBackend.start_execution, answers),
        ),
        (
            Execution,
            "_get_start_execution_worker",
            _worker_with_test_case(Execution._get_start_execution_worker),
        ),
        (Environment, "get_current_mocked_response", _nth_call_answer),
    ]
