"""The start and check steps written on the vendor SDK (huaweicloudsdkims), for the cold-start comparison.

The conventional setup the cold-start targets are measured against: Powertools Logger, Tracer and
Metrics decorators and an SSM read of the credentials through Powertools Parameters (ours drop the
Tracer, which Lambda's active tracing makes unnecessary, and read through the Parameters and Secrets
extension). The SDK signs requests with an access key (AK/SK), so no IAM token is needed. Runs only in
the benchmark virtualenv (.tools/bench); never deployed.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from huaweicloudsdkcore.auth.credentials import BasicCredentials  # type: ignore[import-not-found]
from huaweicloudsdkims.v2 import (  # type: ignore[import-not-found]
    ExportImageRequest,
    ExportImageRequestBody,
    GlanceShowImageRequest,
    ImsClient,
    ShowJobRequest,
)

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def _client() -> Any:
    secret = json.loads(str(parameters.get_parameter(os.environ["CREDENTIALS_PARAMETER"], decrypt=True)))
    credentials = BasicCredentials(secret["access_key"], secret["secret_key"], os.environ["PROJECT_ID"])
    return (
        ImsClient.new_builder()
        .with_credentials(credentials)
        .with_endpoint(os.environ["IMS_ENDPOINT"])
        .build()
    )


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def start_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    order = event["event"]
    client = _client()
    image = client.glance_show_image(GlanceShowImageRequest(image_id=order["image_id"]))
    if image.status != "active":
        return {"phase": "waiting_for_image", "image_status": image.status}
    body = ExportImageRequestBody(bucket_url=order["bucket_url"], file_format=order["file_format"])
    job = client.export_image(ExportImageRequest(image_id=order["image_id"], body=body))
    metrics.add_metric(name="ExportStarted", unit="Count", value=1)
    return {"phase": "exporting", "job": {"job_id": job.job_id}}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def check_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = _client().show_job(ShowJobRequest(job_id=event["job"]["job_id"]))
    metrics.add_metric(name="PollCount", unit="Count", value=1)
    return {"phase": "exporting", "job": {"job_id": job.job_id, "status": job.status}}
