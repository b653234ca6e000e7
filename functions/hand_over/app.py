"""Hand-over step of the export state machine: before it continues as new (history limit), store the
running job under a ticket that only the execution continuing it can claim (``steps.continuation``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model
from ims_export.steps.continuation import hand_over
from ims_export.steps.handover import handover_store_for
from ims_export.steps.states import HandOverRequest

logger = Logger()
quiet_sdk_loggers()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_model(HandOverRequest, event)
    handed = hand_over(request, handover_store_for(runtime.get_settings()), now=runtime.now())
    logger.info("job handed over", extra={"job_id": request.hand_over.job_id, "to": handed.continuation_name})
    return handed.model_dump(mode="json")
