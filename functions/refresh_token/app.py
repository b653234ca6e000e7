"""Scheduled token refresher: renew the cached IAM token long before the hot path would have to.

The hot path refreshes when less than TOKEN_REFRESH_MARGIN_SECONDS is left; this function runs every
hour with the larger SCHEDULED_REFRESH_MARGIN_SECONDS, so exports rarely wait for IAM.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.errors import ConfigurationError
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model
from ims_export.steps.refresh import refresh_token
from ims_export.steps.states import RefreshInput

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()

DEFAULT_SCHEDULED_MARGIN_SECONDS = 4 * 3600


def scheduled_margin_seconds(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    raw = environ.get("SCHEDULED_REFRESH_MARGIN_SECONDS", "") or str(DEFAULT_SCHEDULED_MARGIN_SECONDS)
    if not raw.isdigit():
        raise ConfigurationError("SCHEDULED_REFRESH_MARGIN_SECONDS must be a whole number of seconds")
    return int(raw)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse_model(RefreshInput, event)
    with runtime.counting_upstream_events(metrics):
        report = refresh_token(runtime.get_clients(), margin_seconds=scheduled_margin_seconds())
    result: dict[str, Any] = report.model_dump(mode="json")
    logger.info("token refresh checked", extra=result)
    return result
