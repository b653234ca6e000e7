"""OBS event notifications in their two documented forms, as tests build them (the SMN ``message``)."""

from __future__ import annotations

import json
from typing import Any

BUCKET = "testbucket"
KEY = "SMN/test.txt"
EVENT_TIME = "2020-07-10T09:24:11.418Z"  # the guide's example


def s3_record(
    key: str = KEY, event_name: str = "ObjectCreated:Post", bucket: str = BUCKET, event_time: str = EVENT_TIME
) -> dict[str, Any]:
    """The OTC public cloud form: OTC OBS user guide, "SMN-Enabled Event Notifications"
    (opentelekomcloud-docs/object-storage-service, umn .../event_notifications/
    smn-enabled_event_notifications.rst, en-us_topic_0045853816), eventVersion 2.0 and an ``s3`` block,
    with the placeholders filled in as the guide's "Application Example" (obs_03_0333) describes: test.txt
    uploaded to the folder SMN of testbucket, reported as ObjectCreated:Post."""
    return {
        "eventVersion": "2.0",
        "eventSource": "aws:s3",
        "awsRegion": "eu-de",
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": "9bf43789b1ff4b679040f35cc4f0dc05"},
        "requestParameters": {"sourceIPAddress": "192.0.2.10"},
        "responseElements": {
            "x-amz-request-id": "0000016C7B1F4B4A9E2C1F8A2D3C4B5A",
            "x-amz-id-2": "32AAAQAAEAABSAAgAAEAABAAAQAAEAABCS",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "export-created",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"PrincipalId": "9bf43789b1ff4b679040f35cc4f0dc05"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": key,
                "eTag": "9b2cf535f27731c974343645a3985328",
                "size": 1024,
                "versionId": "",
                "sequencer": "000000000000000001",
            },
        },
    }


def obs_record(
    key: str = KEY, event_name: str = "ObjectCreated:Put", bucket: str = BUCKET, event_time: str = EVENT_TIME
) -> dict[str, Any]:
    """The OTC Swiss and Huawei Cloud form: the same guide in opentelekomcloud-docs-swiss/
    object-storage-service (umn .../event_notifications/smn-enabled_event_notifications.rst), eventVersion
    3.0, eventSource OBS, eventRegion and an ``obs`` block whose ``bucket.bucket`` is empty and
    ``versionId`` is the string "null", as documented."""
    return {
        "eventVersion": "3.0",
        "eventSource": "OBS",
        "eventRegion": "eu-ch2",
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"ID": "9bf43789b1ff4b679040f35cc4f0dc05"},
        "requestParameters": {"sourceIPAddress": "192.0.2.10"},
        "responseElements": {
            "x-obs-request-id": "0000016C7B1F4B4A9E2C1F8A2D3C4B5A",
            "x-obs-id-2": "32AAAQAAEAABSAAgAAEAABAAAQAAEAABCS",
        },
        "obs": {
            "Version": "1.0",
            "configurationId": "export-created",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"ID": "9bf43789b1ff4b679040f35cc4f0dc05"},
                "bucket": "",
            },
            "object": {
                "key": key,
                "eTag": "9b2cf535f27731c974343645a3985328",
                "size": 2048,
                "versionId": "null",
                "sequencer": "000000000000000002",
            },
        },
    }


def message(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})
