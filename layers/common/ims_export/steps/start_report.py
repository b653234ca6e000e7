"""What the start step tells the logs and metrics about each answer it gives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from ims_export.steps.states import (
    Claiming,
    Duplicate,
    NotificationHandled,
    Recording,
    StartInput,
    StartResult,
    WaitingForClaim,
    WaitingForImage,
)
from ims_export.steps.waking import Waking
from ims_export.triggers.events import event_kind

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics


def report_start(start_input: StartInput, result: StartResult, logger: Logger, metrics: Metrics) -> None:
    if isinstance(result, Recording):  # the state machine records the job on the claims first
        result = result.then
    if isinstance(result, Claiming):
        logger.debug("claiming the export", extra={"claiming": result.pending.claiming})
    elif isinstance(result, WaitingForClaim):
        logger.info(
            "another execution is starting this export: waiting for its claim",
            extra={"image_id": result.pending.request.image_id, "wait_seconds": result.wait_seconds},
        )
    elif isinstance(result, WaitingForImage):
        logger.info(
            "image not ready yet",
            extra={
                "image_id": result.order.image_id,
                "image_status": result.image_status,
                "checks": result.checks,
            },
        )
    elif isinstance(result, NotificationHandled):
        logger.info(
            "SMN message handled without an export",
            extra={"action": result.action, "topic_urn": result.topic_urn, "message_id": result.message_id},
        )
    elif isinstance(result, Waking):
        # Counted: a notification that finds no waiting export does nothing else.
        metrics.add_metric(name="ObjectNotifications", unit=MetricUnit.Count, value=len(result.wakes))
        logger.info(
            "OBS notification: waking the exports waiting for its objects",
            extra={
                "objects": [f"{wake.notice.bucket}/{wake.notice.key}" for wake in result.wakes],
                "message_id": result.message_id,
            },
        )
    elif isinstance(result, Duplicate):
        metrics.add_metric(name="DuplicateTrigger", unit=MetricUnit.Count, value=1)
        logger.info(
            "duplicate trigger: the export was started by another execution",
            extra={
                "job_id": result.job.job_id,
                "original_execution": result.original_execution,
                "original_status": result.original_status,
            },
        )
    elif event_kind(start_input.event) == "resume":
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
