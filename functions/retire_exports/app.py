"""Retire step of the export state machine: after a verified export, delete the image's older exports."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model
from ims_export.steps.job_state import Exporting
from ims_export.steps.retire import retire

logger = Logger()
quiet_sdk_loggers()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse_model(Exporting, event)
    result = retire(state, runtime.get_clients())
    retention = result.job.retention
    logger.info(
        "retention applied",
        extra={
            "job_id": result.job.job_id,
            "deleted": retention.deleted_count if retention else 0,
            "skipped_reason": retention.skipped_reason if retention else "off",
        },
    )
    return result.model_dump(mode="json")
