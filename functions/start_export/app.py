"""Start step of the export state machine: normalize the trigger (or verify an SMN message), check the
image and the target, start the export.

Errors propagate: Step Functions sees the exception's class name as the error name (Retry/Catch).
The duplicate guard holds no client: the function decides, the state machine's DynamoDB tasks write.
The SMN handler and the hand-over store are process-wide and built on first use (``smn.handler``,
``steps.handover``): an export of another trigger loads neither.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.errors import SmnMessageRefusedError
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model
from ims_export.settings import Settings
from ims_export.steps.handover import handover_store_for
from ims_export.steps.start import start
from ims_export.steps.start_report import report_start
from ims_export.steps.states import StartInput

if TYPE_CHECKING:
    from ims_export.smn.delivery import SmnOutcome

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()


def _handle_smn(settings: Settings, body: Any) -> SmnOutcome:
    # Only SMN deliveries verify a message: the verifier's modules (cryptography) stay off the other paths.
    from ims_export.smn.handler import smn_handler_for  # noqa: PLC0415

    return smn_handler_for(settings)(body)


# An execution keeps the definition it started with: one started before the hand-over and the outcome had
# functions of their own still sends them here after an upgrade. Those two shapes are no start input (a
# start input has no such key), so they are answered as their own functions answer them, until such
# executions have ended (at the latest by their next continuation, which starts on the new definition).
EARLIER_DEFINITION_REQUESTS = frozenset({"hand_over", "outcome"})


def _earlier_definition_request(event: dict[str, Any]) -> dict[str, Any]:
    from ims_export.steps.continuation import hand_over  # noqa: PLC0415 - only old executions send these
    from ims_export.steps.describe import describe_ended_export  # noqa: PLC0415
    from ims_export.steps.outcome_payloads import OutcomeRequest  # noqa: PLC0415
    from ims_export.steps.states import HandOverRequest  # noqa: PLC0415

    settings = runtime.get_settings()
    if "hand_over" in event:
        handed = hand_over(
            parse_model(HandOverRequest, event), handover_store_for(settings), now=runtime.now()
        )
        return handed.model_dump(mode="json")
    request = parse_model(OutcomeRequest, event)
    described = describe_ended_export(request.outcome, now=runtime.now(), settings=settings)
    return described.model_dump(mode="json", exclude_none=True)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and len(event) == 1 and set(event) <= EARLIER_DEFINITION_REQUESTS:
        logger.info(
            "request of an execution started on an earlier definition", extra={"kind": next(iter(event))}
        )
        return _earlier_definition_request(event)
    start_input = parse_model(StartInput, event)
    with runtime.counting_upstream_events(metrics):
        clients = runtime.get_clients()
        try:
            result = start(
                start_input,
                clients,
                now=clients.clock(),
                smn=partial(_handle_smn, clients.settings),
                handovers=handover_store_for(clients.settings),
            )
        except SmnMessageRefusedError as refused:
            metrics.add_metric(name="SmnDeliveryRefused", unit=MetricUnit.Count, value=1)
            logger.warning("SMN delivery refused", extra={"code": refused.code})
            raise
    report_start(start_input, result, logger, metrics)
    return result.model_dump(mode="json")
