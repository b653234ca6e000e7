"""Each image's result in the fleet state machine: the last step of every Distributed Map iteration.

Its input is the iteration's end state (``{"image_id", "child"}`` or ``{"image_id", "failure"}``); its
output, the image's short result, is what the map run writes to S3. The run's summary is another
function's job (``functions/fleet_summary``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export.fleet import items as fleet_items
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model

logger = Logger()
quiet_sdk_loggers()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = fleet_items.record_item(parse_model(fleet_items.ItemRecord, event))
    # A failed image is an outcome the summary reports, not a fault of this function.
    logger.info(
        "fleet image", extra={"image_id": result.image_id, "status": result.status, "error": result.error}
    )
    return result.model_dump(mode="json", exclude_none=True)
