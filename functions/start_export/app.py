"""Start step of the export state machine: normalize the trigger, check the image, start the export.

Errors propagate: Step Functions sees the exception's class name as the error name (Retry/Catch).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime, workflow
from ims_export.parsing import parse_model

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    start_input = parse_model(workflow.StartInput, event)
    with runtime.counting_throttles(metrics):
        clients = runtime.get_clients()
        result = workflow.start(start_input, clients, now=clients.clock())
    if isinstance(result, workflow.WaitingForImage):
        logger.info(
            "image not ready yet",
            extra={
                "image_id": result.order.image_id,
                "image_status": result.image_status,
                "checks": result.checks,
            },
        )
    elif start_input.kind() == "resume":
        logger.info("resuming export", extra={"job_id": result.job.job_id, "polls": result.job.polls})
    else:
        metrics.add_metric(name="ExportStarted", unit=MetricUnit.Count, value=1)
        logger.info(
            "export started",
            extra={
                "job_id": result.job.job_id,
                "image_id": result.job.image_id,
                "bucket_url": result.job.bucket_url,
            },
        )
    return result.model_dump(mode="json")
