"""Reporting step of the fleet state machine: each image's result, and the run's summary.

One function, two inputs told apart by shape: a Map iteration's end state (``{"image_id", "child"}``
or ``{"image_id", "failure"}``) gives that image's compact result; ``{"results", "skipped", ...}`` at the
end of the run gives the summary and the notice that is published.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export.clock import utc_now
from ims_export.fleet import summary as fleet_summary
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()


def _summary(event: dict[str, Any]) -> dict[str, Any]:
    request = parse_model(fleet_summary.SummaryRequest, event)
    summary = fleet_summary.summarize(
        request,
        now=utc_now(),
        export_state_machine_arn=os.environ.get("EXPORT_STATE_MACHINE_ARN"),
    )
    metrics.add_metric(name="FleetImagesExported", unit=MetricUnit.Count, value=summary.exported_count)
    # Skipped at selection and by the child export together (FleetImagesSelected is the select step's).
    metrics.add_metric(name="FleetImagesSkipped", unit=MetricUnit.Count, value=summary.skipped_count)
    metrics.add_metric(name="FleetImagesFailed", unit=MetricUnit.Count, value=summary.failed_count)
    metrics.add_metric(name="FleetDuration", unit=MetricUnit.Seconds, value=summary.durations.fleet_seconds)
    if summary.durations.export_seconds_mean is not None:
        metrics.add_metric(
            name="FleetExportDurationMean",
            unit=MetricUnit.Seconds,
            value=summary.durations.export_seconds_mean,
        )
    logger.info(
        "fleet finished",
        extra={
            "status": summary.status,
            "exported": summary.exported_count,
            "skipped": summary.skipped_count,
            "failed": summary.failed_count,
        },
    )
    return {"summary": summary.model_dump(mode="json"), "notice": summary.notice()}


def _item(event: dict[str, Any]) -> dict[str, Any]:
    result = fleet_summary.record_item(parse_model(fleet_summary.ItemRecord, event))
    # A failed image is an outcome the summary reports, not a fault of this function.
    logger.info(
        "fleet image", extra={"image_id": result.image_id, "status": result.status, "error": result.error}
    )
    return result.model_dump(mode="json", exclude_none=True)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "results" in event:
        return _summary(event)
    return _item(event)
