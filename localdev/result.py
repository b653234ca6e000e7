"""The one JSON document a local run prints on stdout, whatever the ending (docs/result.schema.json).

An execution that ran to its end prints what the state machine published or would have: the export's
outcome (``SUCCEEDED``, ``FAILED``, ``DUPLICATE``, ``REFUSED``) or a fleet's summary. An SMN message that
asked for no export prints ``HANDLED``. Endings of the run itself print a document of the same shape
with ``stage: "run"``: ``REFUSED`` (nothing was started), ``TIMED_OUT`` (TIMEOUT passed; the export goes
on), ``INTERRUPTED`` (Ctrl-C) and ``FAILED`` (the run broke). So ``jq .status``, ``.error`` and
``.message`` work on every ending.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from localdev.aws_world import ExecutionResult

LOCAL_DETAIL_TYPES = {
    "REFUSED": "Local Run Refused",
    "TIMED_OUT": "Local Run Timed Out",
    "INTERRUPTED": "Local Run Interrupted",
    "FAILED": "Local Run Failed",
}
# What a run knows of its export before the state machine says it (the watch's view).
KNOWN_FIELDS = ("image_id", "image_name", "bucket_url", "job_id", "execution")


def _published(document: Any) -> bool:
    return isinstance(document, Mapping) and "status" in document and "detail_type" in document


def local_document(status: str, *, error: str, message: str, **known: Any) -> dict[str, Any]:
    """An ending of the run itself, in the outcome's shape."""
    fields = {name: known[name] for name in KNOWN_FIELDS if known.get(name)}
    return {
        "status": status,
        "detail_type": LOCAL_DETAIL_TYPES[status],
        "stage": "run",
        "error": error,
        "message": message,
        **fields,
    }


def result_document(result: ExecutionResult) -> dict[str, Any]:
    """What an execution that ended published (or would have), as one document."""
    if _published(result.output):
        return dict(result.output)
    if isinstance(result.output, Mapping) and result.output.get("phase") == "notification_handled":
        action = result.output.get("action")
        detail = result.output.get("detail") or "no detail"
        return {
            "status": "HANDLED",
            "detail_type": "SMN Message Handled",
            "stage": "smn",
            "action": action,
            "topic_urn": result.output.get("topic_urn"),
            "message_id": result.output.get("message_id"),
            "message": f"the SMN message asked for no export: {action} ({detail})",
            "execution": result.arn,
        }
    cause: Any = result.cause
    with suppress(ValueError, TypeError):
        cause = json.loads(result.cause or "")
    if _published(cause):
        return dict(cause)
    error = result.error or "ExecutionFailed"
    return {
        "status": "FAILED",
        "detail_type": "Image Export Failed",
        "stage": "workflow",
        "error": error,
        "message": f"the execution ended {result.status} with {error}: {result.cause or 'no cause'}",
        "execution": result.arn,
    }
