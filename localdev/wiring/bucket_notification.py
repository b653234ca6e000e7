"""A bucket's event notification configuration: read it, add or replace this command's
``TopicConfiguration`` (by its Id) or take it out, and write it back with everything else kept.

OBS's API reference, "Configuring Event Notification for a Bucket" (obs_04_0039) and "Obtaining the
Event Notification Configuration of a Bucket" (obs_04_0040), opentelekomcloud-docs/object-storage-service
``api-ref/source/apis/advanced_bucket_settings/``: ``GET /?notification`` answers, and ``PUT
/?notification`` takes, the whole configuration:

    <NotificationConfiguration>
      <TopicConfiguration>
        <Id>...</Id>
        <Filter><Object><FilterRule><Name>prefix</Name><Value>exports/</Value></FilterRule></Object></Filter>
        <Topic>urn:smn:<region>:<project_id>:<topic></Topic>
        <Event>ObjectCreated:*</Event>
      </TopicConfiguration>
      ...
    </NotificationConfiguration>

A PUT replaces the configuration, so every other element (other topic configurations, FunctionGraph
ones) is written back as it was read; an empty ``NotificationConfiguration`` turns notifications off.
OBS checks that the topic exists and lets OBS publish, and then sends a test notification to it.
Requests are signed as every OBS request of the project (``cloud/obs_signature``), addressed as
``cloud/obs_address`` does (virtual-hosted, or path-style with ``OBS_ENDPOINT``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree import ElementTree

import requests

from ims_export.cloud.obs_address import ObsAddress
from ims_export.cloud.obs_answers import error_details, local_name, parse_xml
from ims_export.cloud.obs_signature import (
    SECURITY_TOKEN_HEADER,
    authorization,
    canonical_resource,
    string_to_sign,
)
from ims_export.cloud.redaction import redact_message
from ims_export.cloud.temporary_credentials import TemporaryCredentials

CONFIGURATION_ID = "ims-export-object-created"
EVENT = "ObjectCreated:*"


class ObsNotificationError(Exception):
    """OBS refused to read or write the bucket's notification configuration."""


@dataclass(frozen=True)
class TopicRule:
    """What one ``TopicConfiguration`` says."""

    id: str
    topic: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    def describe(self) -> str:
        where = f" under {self.prefix!r}" if self.prefix else " (every object)"
        where += f" ending {self.suffix!r}" if self.suffix else ""
        return f"{', '.join(self.events)}{where} to {self.topic}"


def wanted_rule(topic_urn: str, prefix: str) -> TopicRule:
    return TopicRule(CONFIGURATION_ID, topic_urn, (EVENT,), prefix)


@dataclass(frozen=True)
class NotificationConfiguration:
    """The configuration as read: this command's rule (by Id), if any, and every other element."""

    ours: TopicRule | None
    others: tuple[ElementTree.Element, ...]

    def other_rules(self) -> list[TopicRule]:
        return [_rule(element) for element in self.others if local_name(element.tag) == "TopicConfiguration"]

    def with_rule(self, rule: TopicRule | None) -> bytes:
        """The XML to PUT: the other elements as read, and ``rule`` (none: ours taken out)."""
        root = ElementTree.Element("NotificationConfiguration")
        root.extend(copy.deepcopy(element) for element in self.others)
        if rule is not None:
            root.append(_element(rule))
        return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=False))


def _text(element: ElementTree.Element, name: str) -> str:
    found = next((child for child in element if local_name(child.tag) == name), None)
    return (found.text or "").strip() if found is not None else ""


def _rule(element: ElementTree.Element) -> TopicRule:
    filters = {"prefix": "", "suffix": ""}
    for rule in element.iter():
        if local_name(rule.tag) == "FilterRule":
            filters[_text(rule, "Name").lower()] = _text(rule, "Value")
    events = tuple((child.text or "").strip() for child in element if local_name(child.tag) == "Event")
    return TopicRule(
        _text(element, "Id"), _text(element, "Topic"), events, filters["prefix"], filters["suffix"]
    )


def _element(rule: TopicRule) -> ElementTree.Element:
    element = ElementTree.Element("TopicConfiguration")
    ElementTree.SubElement(element, "Id").text = rule.id
    filter_rules = [
        (name, value) for name, value in (("prefix", rule.prefix), ("suffix", rule.suffix)) if value
    ]
    if filter_rules:
        rules = ElementTree.SubElement(ElementTree.SubElement(element, "Filter"), "Object")
        for name, value in filter_rules:
            filter_rule = ElementTree.SubElement(rules, "FilterRule")
            ElementTree.SubElement(filter_rule, "Name").text = name
            ElementTree.SubElement(filter_rule, "Value").text = value
    ElementTree.SubElement(element, "Topic").text = rule.topic
    for event in rule.events:
        ElementTree.SubElement(element, "Event").text = event
    return element


def _without_namespace(element: ElementTree.Element) -> ElementTree.Element:
    """A copy without the answer's namespace (a PUT carries none, as the reference's examples show)."""
    copied = copy.deepcopy(element)
    for node in copied.iter():
        node.tag = local_name(node.tag)
    return copied


def parse_configuration(content: bytes) -> NotificationConfiguration:
    root = parse_xml(content) if content.strip() else ElementTree.Element("NotificationConfiguration")
    if root is None or local_name(root.tag) != "NotificationConfiguration":
        raise ObsNotificationError("OBS answered without a NotificationConfiguration")
    ours: TopicRule | None = None
    others: list[ElementTree.Element] = []
    for child in root:
        if local_name(child.tag) == "TopicConfiguration" and _text(child, "Id") == CONFIGURATION_ID:
            ours = _rule(child)
        else:
            others.append(_without_namespace(child))
    return NotificationConfiguration(ours, tuple(others))


class BucketNotificationClient:
    """``GET`` and ``PUT /?notification`` of buckets, signed with temporary credentials."""

    def __init__(
        self,
        credentials: TemporaryCredentials,
        address: ObsAddress,
        session: requests.Session,
        timeout: tuple[float, float],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._credentials = credentials
        self._address = address
        self._session = session
        self._timeout = timeout
        self._clock = clock

    def read(self, bucket: str) -> NotificationConfiguration:
        response = self._call("GET", bucket, None, f"read the event notification of bucket {bucket}")
        return parse_configuration(response.content)

    def write(self, bucket: str, body: bytes) -> None:
        self._call("PUT", bucket, body, f"write the event notification of bucket {bucket}")

    def _call(self, method: str, bucket: str, body: bytes | None, operation: str) -> requests.Response:
        credentials = self._credentials
        headers = {
            "Date": format_datetime(self._clock().astimezone(UTC), usegmt=True),
            SECURITY_TOKEN_HEADER: credentials.security_token.get_secret_value(),
        }
        if body is not None:
            headers["Content-Type"] = "application/xml"
            headers["Content-MD5"] = base64.b64encode(
                hashlib.md5(body, usedforsecurity=False).digest()
            ).decode()
        resource = canonical_resource(bucket, None, {"notification": None})
        headers["Authorization"] = authorization(
            credentials.access_key_id,
            credentials.secret_access_key.get_secret_value(),
            string_to_sign(method, headers, resource),
        )
        try:
            response = self._session.request(
                method,
                self._address.url(bucket) + "?notification",
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect would carry the security token to another host
            )
        except requests.RequestException as error:
            host = self._address.host(bucket)
            raise ObsNotificationError(
                f"{operation}: no answer from OBS at {host} ({type(error).__name__})"
            ) from None
        if not 200 <= response.status_code < 300:
            code, message = error_details(response)
            text = (
                f"{operation}: OBS answered {response.status_code} {code or ''}: {message or response.reason}"
            )
            raise ObsNotificationError(redact_message(text, credentials.secret_values()))
        return response
