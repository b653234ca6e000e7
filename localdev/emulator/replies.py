"""HTTP replies of the emulator, and the error bodies of IAM, IMS and the API gateway in front of them.

Shapes follow the OTC API references:
- IMS: ``{"error": {"message": "...", "code": "IMG.0027"}}``.
- IAM (Keystone): ``{"error": {"message": "...", "code": 401, "title": "Unauthorized"}}``; the IAM code
  (IAM.0061, IAM.1109, ...) is added in the generic ``error_code``/``error_msg`` fields that IAM's
  documentation also shows, so that clients can tell a locked account from a wrong password.
- API gateway throttling: ``{"error_code": "APIG.0308", "error_msg": "..."}`` with ``Retry-After``.
- OBS: the XML ``<Error>`` with ``Code``, ``Message`` and ``RequestId``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from xml.etree import ElementTree


@dataclass
class Reply:
    status: int
    body: Any = None  # sent as JSON
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of ``body`` (an HTML page, an empty answer)


class ApiError(Exception):
    """Raised by a handler to answer with an error; carries the complete reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"HTTP {reply.status}")
        self.reply = reply


def ims_error(code: str, message: str, status: int = 400) -> ApiError:
    return ApiError(Reply(status, {"error": {"message": message, "code": code}}))


def keystone_error(
    status: int, message: str, iam_code: str | None = None, headers: dict[str, str] | None = None
) -> ApiError:
    body: dict[str, Any] = {"error": {"message": message, "code": status, "title": HTTPStatus(status).phrase}}
    if iam_code is not None:
        body["error_code"] = iam_code
        body["error_msg"] = message
    return ApiError(Reply(status, body, dict(headers or {})))


def unauthorized(message: str) -> ApiError:
    """What IAM and IMS answer to a missing, invalid, expired or revoked token."""
    return keystone_error(401, message)


def gateway_throttled(retry_after_seconds: int) -> Reply:
    return Reply(
        429,
        {
            "error_code": "APIG.0308",
            "error_msg": "The throttling threshold has been reached: policy user over ratelimit,"
            "limit:10,time:1 second",
        },
        {"Retry-After": str(retry_after_seconds)},
    )


GATEWAY_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>Service is busy</h1></center>"
    b"<hr><center>API Gateway</center></body></html>"
)


def html_page() -> Reply:
    """An HTML page with 200, as a misbehaving gateway in front of IMS sends it."""
    return Reply(200, headers={"Content-Type": "text/html"}, raw=GATEWAY_HTML)


def not_found(message: str = "The requested resource could not be found.") -> ApiError:
    return keystone_error(404, message)


def obs_error(status: int, code: str, message: str, **details: str) -> ApiError:
    root = ElementTree.Element("Error")
    for name, text in {"Code": code, "Message": message, **details, "RequestId": "0000018EMULATOR"}.items():
        ElementTree.SubElement(root, name).text = text
    body = b'<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(root)
    return ApiError(Reply(status, headers={"Content-Type": "application/xml"}, raw=body))
