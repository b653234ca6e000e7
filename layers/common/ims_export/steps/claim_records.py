"""The duplicate claims' records in the idempotency table: their keys and ids (of an export, of a delivery),
DynamoDB's attribute values, and a stored record read back (``read_claim``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ims_export.domain.export_request import ExportRequest
from ims_export.steps.states import PendingExport

# A claim's state: in progress until its job is recorded on it.
IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
# Distinct from the token refresh lock's prefix: all live in the stack's idempotency table.
KEY_PREFIX = "ims-export-start"
DELIVERY_KEY_PREFIX = "ims-export-delivery"


def export_key(request: ExportRequest) -> dict[str, Any]:
    """What makes two requests the same export (hashed into the record's id)."""
    return {"image_id": request.image_id, **request.target.fields()}


def export_key_of_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """``export_key`` of the request a job record was started for."""
    return {name: job.get(name) for name in ("image_id", "bucket_url", "file_format", "is_quick_export")}


def record_id(prefix: str, key: Mapping[str, Any]) -> str:
    canonical = json.dumps(dict(key), sort_keys=True, separators=(",", ":"))
    return f"{prefix}#{hashlib.sha256(canonical.encode()).hexdigest()}"


def export_record_id(key: Mapping[str, Any]) -> str:
    return record_id(KEY_PREFIX, key)


def delivery_key(delivery: str, request: ExportRequest) -> dict[str, Any]:
    """A delivery of one export: its id, and the image, bucket, format and quick flag it asks for. Not
    the object name, which a pattern may render anew on a redelivery (``{time}``); but a delivery id
    carried by a trigger for another image (or bucket) is another delivery, never a duplicate of this."""
    target = request.target
    return {
        "delivery": delivery,
        "image_id": request.image_id,
        "bucket": target.bucket,
        "file_format": target.file_format,
        "is_quick_export": target.is_quick_export,
    }


def delivery_record_id(delivery: str, request: ExportRequest) -> str:
    return record_id(DELIVERY_KEY_PREFIX, delivery_key(delivery, request))


def claiming_record_id(pending: PendingExport) -> str:
    """The record the claim in flight is for."""
    if pending.claiming == "delivery" and pending.delivery_id is not None:
        return delivery_record_id(pending.delivery_id, pending.request)
    return export_record_id(export_key(pending.request))


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def number_attribute(value: int) -> dict[str, str]:
    return {"N": str(value)}


def string_attribute(value: str) -> dict[str, str]:
    return {"S": value}


@dataclass(frozen=True)
class StoredClaim:
    """A record as getItem found it."""

    execution: str | None
    in_progress: bool
    expires_at: int
    job: dict[str, Any] | None


def read_claim(found: Mapping[str, Any] | None) -> StoredClaim | None:
    """The record of a getItem answer (None: there is none any more)."""
    item = (found or {}).get("Item")
    if not isinstance(item, Mapping):
        return None

    def text(name: str) -> str | None:
        value = item.get(name)
        return value.get("S") if isinstance(value, Mapping) else None

    expiration = item.get("expiration")
    try:
        expires_at = int(expiration["N"]) if isinstance(expiration, Mapping) else 0
    except (KeyError, ValueError):
        expires_at = 0
    job_text = text("job")
    try:
        job = json.loads(job_text) if job_text else None
    except ValueError:
        job = None
    return StoredClaim(
        execution=text("started_by"),
        in_progress=text("claim_state") != COMPLETED,
        expires_at=expires_at,
        job=job if isinstance(job, dict) else None,
    )
