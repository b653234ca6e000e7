"""Scheduled token refresher: renew the cached IAM token long before the hot path would have to.

The hot path refreshes when less than TOKEN_REFRESH_MARGIN_SECONDS is left; this function runs every
hour with the larger SCHEDULED_REFRESH_MARGIN_SECONDS (both settings), so exports rarely wait for IAM.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model
from ims_export.steps.refresh import refresh_token
from ims_export.steps.states import RefreshInput

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse_model(RefreshInput, event)
    with runtime.counting_upstream_events(metrics):
        clients = runtime.get_clients()
        report = refresh_token(clients, margin_seconds=clients.settings.scheduled_refresh_margin_seconds)
    result: dict[str, Any] = report.model_dump(mode="json")
    logger.info("token refresh checked", extra=result)
    return result
