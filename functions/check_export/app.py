"""Check step of the export state machine: query the IMS job once and choose the next wait."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.domain.jobs import JobStatus
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model
from ims_export.steps.check import check
from ims_export.steps.job_state import Exporting

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()

OUTCOME_METRICS = {JobStatus.SUCCESS: "ExportSucceeded", JobStatus.FAIL: "ExportFailed"}


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse_model(Exporting, event)
    with runtime.counting_upstream_events(metrics):
        clients = runtime.get_clients()
        result = check(state, clients, now=clients.clock())
    job = result.job
    metrics.add_metric(name="PollCount", unit=MetricUnit.Count, value=1)
    if job.status in OUTCOME_METRICS:
        metrics.add_metric(name=OUTCOME_METRICS[job.status], unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ExportDuration", unit=MetricUnit.Seconds, value=job.elapsed_seconds)
    logger.info(
        "job checked",
        extra={
            "job_id": job.job_id,
            "status": job.status.value,
            "percent": job.percent,
            "polls": job.polls,
            "next_wait_seconds": job.next_wait_seconds,
            "error_code": job.error_code,
        },
    )
    return result.model_dump(mode="json")
