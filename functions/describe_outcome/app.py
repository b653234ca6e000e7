"""Outcome step of the export state machine: the outcome of the state an export ended in, which end
state to route to, whether to publish, and the duplicate claims to release first. It calls nothing:
the state machine's own tasks release and publish."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model
from ims_export.steps.describe import describe_ended_export
from ims_export.steps.outcome_payloads import OutcomeRequest

logger = Logger()
quiet_sdk_loggers()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_model(OutcomeRequest, event)
    settings = runtime.get_settings()
    described = describe_ended_export(request.outcome, now=runtime.now(), settings=settings)
    outcome = described.outcome
    logger.info(
        "export outcome", extra={"status": outcome.status, "error": outcome.error, "route": described.route}
    )
    return described.model_dump(mode="json", exclude_none=True)
