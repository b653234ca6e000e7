"""The fleet's results, read back and summed up: one step per piece of a map run's result files.

Its input is the fleet's state at that point (``{"plan", "tally", "piece", ...}``, see
``ims_export.fleet.tally.FoldRequest``); its output is the next state: ``{"plan", "tally"}`` while
there is more to read, and ``{"summary", "notice"}`` (the run's output and the published notice) once
the last page is read.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.fleet import summary as fleet_summary
from ims_export.fleet import tally as fleet_tally
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()


def _publish_metrics(summary: fleet_summary.FleetSummary) -> None:
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


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_model(fleet_tally.FoldRequest, event)
    tally = fleet_tally.fold(request)
    if tally.page < request.plan.pages:
        return {
            "plan": request.plan.model_dump(mode="json"),
            "tally": tally.model_dump(mode="json", exclude_none=True),
        }
    summary = fleet_summary.summarize_tally(
        request.plan,
        tally,
        execution=request.execution,
        started_at=request.started_at,
        now=runtime.now(),  # the clock of the exports' outcomes (the emulator's, locally)
        export_state_machine_arn=runtime.get_settings().export_state_machine_arn,
    )
    _publish_metrics(summary)
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
