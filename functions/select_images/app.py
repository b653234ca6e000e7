"""First step of the fleet state machine: one page of the images to export, and those skipped with why."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.fleet import selection as fleet
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_model(fleet.SelectionRequest, event)
    with runtime.counting_upstream_events(metrics):
        clients = runtime.get_clients()
        plan = fleet.select_images(
            request.selection,
            clients.ims,
            settings=clients.settings,
            project_id=clients.project_id(),
            default_max_concurrency=clients.settings.fleet_max_concurrency,
            now=clients.clock(),
            page=request.page,
        )
    if plan.page == 0:  # once per run: every page repeats the counts
        metrics.add_metric(name="FleetImagesSelected", unit=MetricUnit.Count, value=plan.selected)
    logger.info(
        "fleet selected",
        extra={
            "page": plan.page,
            "pages": plan.pages,
            "selected": plan.selected,
            "skipped": plan.skipped_count,
            "considered": plan.considered,
        },
    )
    return plan.model_dump(mode="json", exclude_none=True)
