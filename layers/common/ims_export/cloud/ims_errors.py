"""Turn an IMS error answer (or a failed connection) into a typed error from ``ims_export.errors``.

IMS answers ``{"error": {"code": "IMG.xxxx", "message": ...}}``; other Huawei/OTC gateways answer
``{"error_code", "error_msg"}`` or plain text. The IMS code decides the error class when it is known
(``ERROR_CLASS_BY_CODE``); otherwise the HTTP status does. The code and IMS's message are kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from ims_export.cloud.http_errors import transient_error_class
from ims_export.cloud.redaction import redact_message
from ims_export.errors import (
    AuthorizationError,
    ExportAlreadyRunningError,
    ExportTargetError,
    ImageNotExportableError,
    ImageNotFoundError,
    ImageNotReadyError,
    ImsExportError,
    ImsRequestError,
    ObjectAlreadyExistsError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
)

ERROR_CLASS_BY_CODE: dict[str, type[ImsExportError]] = {
    # retryable
    "IMG.0060": UpstreamThrottledError,  # flow control: wait and retry
    "APIG.0308": UpstreamThrottledError,  # Huawei API gateway throttling
    # the image
    "IMG.0027": ImageNotFoundError,
    "IMG.0046": ImageNotReadyError,
    "IMG.0047": ImageNotExportableError,  # only the owner may export
    "IMG.0059": ImageNotExportableError,
    "IMG.0071": ImageNotExportableError,
    "IMG.0077": ImageNotExportableError,
    "IMG.0079": ImageNotExportableError,
    "IMG.0080": ImageNotExportableError,
    "IMG.0081": ImageNotExportableError,
    "IMG.0128": ImageNotExportableError,
    "IMG.0130": ImageNotExportableError,
    "IMG.0160": ImageNotExportableError,
    # the target bucket and object
    "IMG.0058": ExportTargetError,
    "IMG.0068": ExportTargetError,
    "IMG.0069": ExportTargetError,
    "IMG.0073": ExportTargetError,
    "IMG.0074": ExportTargetError,
    "IMG.0075": ExportTargetError,
    "IMG.0109": ExportTargetError,
    "IMG.0175": ExportTargetError,
    "IMG.0070": ObjectAlreadyExistsError,
    "IMG.0148": ExportAlreadyRunningError,
    # the request itself: our request was malformed or names a format this region refuses
    "IMG.0001": ImsRequestError,
    "IMG.0072": ImsRequestError,
    # permissions
    "IMG.0026": AuthorizationError,
}

# How much of an unreadable answer a failure quotes: enough to recognize an HTML page or a gateway text.
SNIPPET_LENGTH = 80
# API gateway answers for a path that is not (or no longer) published: the job API fallback's signal.
MISSING_API_CODES = frozenset({"APIGW.0101", "APIG.0101"})
MISSING_API_PHRASE = "api does not exist"


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from any of the documented error body shapes."""
    if not isinstance(body, Mapping):
        return None, None
    nested = body.get("error")
    if isinstance(nested, str):
        return None, nested or None
    source: Mapping[str, Any] = nested if isinstance(nested, Mapping) else body
    code = source.get("code", source.get("error_code"))
    message = source.get("message", source.get("error_msg"))
    return (
        str(code) if code not in (None, "") else None,
        str(message) if message not in (None, "") else None,
    )


def parse_error_body(response: requests.Response) -> tuple[str | None, str | None]:
    """The IMS error code and message of ``response``; (None, None) for a body that is not JSON."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return None, None
    return _error_fields(body)


def is_missing_api(response: requests.Response) -> bool:
    """True for the gateway's "API does not exist" answer (404 ``APIGW.0101``-style), as opposed to an
    IMS answer about the resource (an unknown job)."""
    if response.status_code != 404:
        return False
    code, message = parse_error_body(response)
    return (code or "").upper() in MISSING_API_CODES or MISSING_API_PHRASE in (message or "").lower()


def answer_snippet(response: requests.Response, secrets: Iterable[str] = ()) -> str:
    """The start of an answer's body, redacted and on one line, to quote in a failure; "(empty)" if none."""
    text = response.content[: SNIPPET_LENGTH * 4].decode("utf-8", errors="replace")
    cleaned = redact_message(text, list(secrets))
    if not cleaned:
        return "(empty)"
    return cleaned if len(cleaned) <= SNIPPET_LENGTH else cleaned[: SNIPPET_LENGTH - 3] + "..."


def _class_for_status(status: int) -> type[ImsExportError]:
    if (transient := transient_error_class(status)) is not None:
        return transient
    return AuthorizationError if status == 403 else ImsRequestError


def error_from_response(
    response: requests.Response,
    *,
    operation: str,
    secrets: Iterable[str] = (),
) -> ImsExportError:
    """The typed error for a non-success IMS answer. ``secrets`` are masked if IMS echoes them."""
    code, message = parse_error_body(response)
    status = response.status_code
    error_class = ERROR_CLASS_BY_CODE.get(code or "") or _class_for_status(status)
    detail = message or f"HTTP {status} {response.reason or ''}".strip()
    text = redact_message(f"{operation}: {detail}", list(secrets))
    return error_class(text, code=code, status=status)


def error_from_transport(
    error: requests.RequestException, *, operation: str, host: str = "IMS"
) -> ImsExportError:
    """A timeout or dropped connection becomes UpstreamTimeoutError (retryable).

    Only the exception's type is reported: its text holds URLs and socket details, not needed here.
    """
    return UpstreamTimeoutError(f"{operation}: no answer from {host} ({type(error).__name__})")


TRANSPORT_ERRORS: tuple[type[requests.RequestException], ...] = (
    requests.Timeout,  # ConnectTimeout and ReadTimeout
    requests.ConnectionError,  # refused, reset, DNS failure
    requests.exceptions.ChunkedEncodingError,  # connection dropped mid-body
)
