"""The request and response examples of the IMS API reference, shared by the client, model and emulator
tests so that all three are held to the same documented text."""

from __future__ import annotations

from typing import Any

# Export an image: example request and answer.
EXPORT_IMAGE_ID = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"
EXPORT_REQUEST_BODY: dict[str, Any] = {
    "bucket_url": "ims-image:centos7_5.qcow2",
    "file_format": "qcow2",
    "is_quick_export": False,
}
EXPORT_JOB_ID = "edc89b490d7d4392898e19b2deb34797"

# Query an asynchronous job: example response of an export job.
JOB_ID = "9a175ac892fa134201930039db1a27b1"
JOB_RESPONSE: dict[str, Any] = {
    "job_id": JOB_ID,
    "job_type": "imsNativeExportImageJob",
    "begin_time": "2024-11-06T06:46:51.929Z",
    "end_time": "2024-11-06T06:49:53.657Z",
    "status": "SUCCESS",
    "error_code": None,
    "fail_reason": None,
    "entities": {"image_id": "1ab4df10-fe18-48b7-91c9-53695fcd9df5"},
}
