"""First step of the fleet state machine: choose the images to export, and those skipped with why."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.errors import ConfigurationError
from ims_export.fleet import selection as fleet
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()


def default_max_concurrency(environ: dict[str, str] | None = None) -> int:
    """FLEET_MAX_CONCURRENCY (the template's FleetMaxConcurrency), for runs that do not set their own."""
    value = (os.environ if environ is None else environ).get("FLEET_MAX_CONCURRENCY", "")
    if not value:
        return fleet.DEFAULT_MAX_CONCURRENCY
    if not value.isdigit() or not 1 <= int(value) <= fleet.MAX_CONCURRENCY:
        raise ConfigurationError(f"FLEET_MAX_CONCURRENCY must be 1-{fleet.MAX_CONCURRENCY}")
    return int(value)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    selection = parse_model(fleet.FleetSelection, event)
    concurrency = default_max_concurrency()
    with runtime.counting_upstream_events(metrics):
        clients = runtime.get_clients()
        if not isinstance(clients.ims, fleet.ImageCatalog):
            raise ConfigurationError("the IMS client cannot list images")
        plan = fleet.select_images(
            selection,
            clients.ims,
            settings=clients.settings,
            project_id=clients.project_id(),
            default_max_concurrency=concurrency,
            now=clients.clock(),
        )
    metrics.add_metric(name="FleetImagesSelected", unit=MetricUnit.Count, value=len(plan.items))
    logger.info(
        "fleet selected",
        extra={"selected": len(plan.items), "skipped": len(plan.skipped), "considered": plan.considered},
    )
    return plan.model_dump(mode="json", exclude_none=True)
