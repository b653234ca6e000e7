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
The requests go through the project's OBS client (``cloud/obs``: signed, addressed and refused as every
OBS request of the project).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from xml.etree import ElementTree

from ims_export.cloud.obs import ObsClient
from ims_export.cloud.obs_answers import local_name, parse_xml

CONFIGURATION_ID = "ims-export-object-created"
SUBRESOURCE = "notification"
EVENT = "ObjectCreated:*"


class ObsNotificationError(Exception):
    """OBS answered the bucket's notification configuration with something that is none."""


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
    # Strict: what is read is written back whole, so an answer taken for "no configurations" (an empty
    # body, a proxy's page) would drop the bucket's other configurations. OBS answers an empty element.
    root = parse_xml(content)
    if root is None or local_name(root.tag) != "NotificationConfiguration":
        raise ObsNotificationError(
            "OBS answered without a NotificationConfiguration (an empty or other document): nothing was "
            "changed, as the bucket's other notification configurations could not be kept"
        )
    ours: TopicRule | None = None
    others: list[ElementTree.Element] = []
    for child in root:
        # Only the first of our Id is ours: a second is written back as it was, never dropped unseen.
        if (
            ours is None
            and local_name(child.tag) == "TopicConfiguration"
            and _text(child, "Id") == CONFIGURATION_ID
        ):
            ours = _rule(child)
        else:
            others.append(_without_namespace(child))
    return NotificationConfiguration(ours, tuple(others))


class BucketNotificationClient:
    """``GET`` and ``PUT /?notification`` of buckets, through the project's OBS client (signed with its
    temporary credentials; a refusal is its typed error)."""

    def __init__(self, obs: ObsClient) -> None:
        self._obs = obs

    def read(self, bucket: str) -> NotificationConfiguration:
        return parse_configuration(self._obs.bucket_subresource(bucket, SUBRESOURCE))

    def write(self, bucket: str, body: bytes) -> None:
        self._obs.put_bucket_subresource(bucket, SUBRESOURCE, body)
