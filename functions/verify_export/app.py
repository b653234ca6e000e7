"""Verify step of the export state machine: after IMS reported SUCCESS, HEAD the exported object."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model
from ims_export.steps.job_state import Exporting
from ims_export.steps.verify import verify

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse_model(Exporting, event)
    with runtime.counting_upstream_events(metrics):
        result = verify(state, runtime.get_clients())
    exported = result.job.object
    if exported is not None and exported.verification == "missing":
        metrics.add_metric(name="ExportObjectMissing", unit=MetricUnit.Count, value=1)
    logger.info(
        "exported object looked at",
        extra={
            "job_id": result.job.job_id,
            "verification": exported.verification if exported else "off",
            "url": exported.url if exported else None,
        },
    )
    return result.model_dump(mode="json")
