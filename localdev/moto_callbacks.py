"""Where moto's callback API (``SendTaskSuccess``) differs from AWS, made to answer as AWS does.

``docs/engines.md`` lists these with the other fidelity fixes (``moto_fidelity``):

- moto's backend raises its callback errors (``TaskTimedOut()``, ``TaskDoesNotExist()``) without the
  message their class requires, a TypeError, so a ``States.Runtime`` no Catch takes: the API reference
  (SendTaskSuccess, Errors) names ``TaskTimedOut`` and ``TaskDoesNotExist``, caught like any error.
- moto looks a token up in every running execution, and an execution that has just started has no
  evaluation environment yet: the lookup fails with an AttributeError (``'NoneType' object has no
  attribute 'callback_pool_manager'``), again a ``States.Runtime``. AWS finds a token by the token; an
  execution that holds none is not asked. Seen when a fleet's child starts while an OBS notification's
  execution sends a token.
"""

from __future__ import annotations

from typing import Any


def with_message(name: str, message: str) -> type:
    """The callback error ``name`` of moto's API, with the message its class requires."""
    from moto.stepfunctions.parser import api

    base: type = getattr(api, name)

    class WithMessage(base):  # type: ignore[misc]
        def __init__(self, text: str = message) -> None:
            super().__init__(text, exception_type=name)

    WithMessage.__name__ = name
    return WithMessage


def send_task_success(backend: Any, task_token: str, outcome: str) -> None:
    """``SendTaskSuccess`` that asks only the executions that can hold a token (those whose evaluation
    has begun), with moto's answers otherwise."""
    from moto.stepfunctions.parser import models as parser_models
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackConsumerTimeout,
        CallbackNotifyConsumerError,
        CallbackOutcomeSuccess,
    )

    success = CallbackOutcomeSuccess(callback_id=task_token, output=outcome)
    for execution in backend._get_executions(ExecutionStatus.RUNNING):
        env = getattr(execution.exec_worker, "env", None)
        if env is None:
            continue  # still starting: it has reached no callback task yet
        try:
            if env.callback_pool_manager.notify(callback_id=task_token, outcome=success):
                return
        except CallbackNotifyConsumerError as consumer_error:
            # The module's names, as patched by ``callback_patches`` (with their messages).
            if isinstance(consumer_error, CallbackConsumerTimeout):
                raise vars(parser_models)["TaskTimedOut"]() from None
            raise vars(parser_models)["TaskDoesNotExist"]() from None
    raise vars(parser_models)["InvalidToken"]()


def callback_patches() -> list[tuple[Any, str, Any]]:
    """The replacements that make moto's callback API answer as AWS does."""
    from moto.stepfunctions.parser import models as parser_models

    return [
        (parser_models, "TaskTimedOut", with_message("TaskTimedOut", "the task has already been closed")),
        (parser_models, "TaskDoesNotExist", with_message("TaskDoesNotExist", "the task does not exist")),
        (parser_models.StepFunctionsParserBackend, "send_task_success", send_task_success),
    ]
