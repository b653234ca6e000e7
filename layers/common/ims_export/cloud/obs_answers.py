"""OBS's answers read safely: XML bodies (no DTD, no entity expansion), their elements, OBS's times in both
of its formats, ETags and the error code and message of an error answer."""

from __future__ import annotations

import pyexpat
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from xml.etree import ElementTree

import requests

# Expat below 2.4.1 expands nested entities without limit; DTDs are refused before parsing anyway.
_SAFE_EXPAT = pyexpat.version_info >= (2, 4, 1)
_XML_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY")


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]  # OBS and S3 answers carry different XML namespaces


def parse_xml(content: bytes) -> ElementTree.Element | None:
    """The root element, or None for a body that is empty, not XML, or declares a DTD."""
    if not content.strip() or not _SAFE_EXPAT or any(marker in content for marker in _XML_DECLARATIONS):
        return None
    try:
        return ElementTree.fromstring(content)  # noqa: S314 - DTDs are refused above
    except ElementTree.ParseError:
        return None


def child_text(element: ElementTree.Element, name: str) -> str | None:
    for child in element:
        if local_name(child.tag) == name:
            return (child.text or "").strip()
    return None


def iso_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def http_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return iso_time(text)  # a gateway or an older OBS may send ISO 8601, as listings do
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def etag_value(text: str | None) -> str | None:
    cleaned = (text or "").strip().strip('"')
    return cleaned or None


def error_details(response: requests.Response) -> tuple[str | None, str | None]:
    """OBS's error code and message: the XML ``<Error>`` body, or the headers HEAD answers carry."""
    root = parse_xml(response.content or b"")
    if root is not None and local_name(root.tag) == "Error":
        return child_text(root, "Code") or None, child_text(root, "Message") or None
    return response.headers.get("x-obs-error-code"), response.headers.get("x-obs-error-message")


def upper_or_none(value: str | None) -> str | None:
    return value.strip().upper() or None if value else None
