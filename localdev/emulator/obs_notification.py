"""A bucket's event notification configuration, ``GET /{bucket}?notification`` and
``PUT /{bucket}?notification``, as OBS's API reference documents them ("Configuring Event Notification
for a Bucket", obs_04_0039, and "Obtaining the Event Notification Configuration of a Bucket",
obs_04_0040).

A PUT replaces the whole configuration (an empty ``NotificationConfiguration`` turns it off). OBS checks
that each topic exists and is authorised for OBS (its policy lets the service ``obs`` publish), is in the
bucket's region, that the events are supported and that no two configurations' filters overlap; any of
these refused is 400 ``InvalidArgument``, and nothing changes. Accepted, it sends OBS's test notification
to each topic (the S3 form ``{"Service", "Event": "s3:TestEvent", ...}``, as ``domain/obs_notifications``
reads it); SMN delivers it to the topic's confirmed subscriptions.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from xml.etree import ElementTree

from localdev.emulator.model import Bucket, TopicConfiguration
from localdev.emulator.replies import ApiError, Reply, obs_error
from localdev.emulator.smn_topics import obs_may_publish
from localdev.emulator.state import EmulatorState

XML_NAMESPACE = "http://obs.otc.t-systems.com/doc/2016-01-01/"
EVENTS = frozenset(
    {
        "ObjectCreated:*",
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectCreated:Copy",
        "ObjectCreated:CompleteMultipartUpload",
        "ObjectRemoved:*",
        "ObjectRemoved:Delete",
        "ObjectRemoved:DeleteMarkerCreated",
    }
)
MAX_CONFIGURATIONS = 100
MAX_FILTER_VALUE = 1024


def _invalid(message: str) -> ApiError:
    return obs_error(400, "InvalidArgument", message)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: ElementTree.Element, name: str) -> str | None:
    found = _children(element, name)
    return (found[0].text or "").strip() if found else None


def parse_configuration(body: bytes) -> tuple[TopicConfiguration, ...]:
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 (a local emulator's own test input)
    except ElementTree.ParseError:
        raise obs_error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    if _local(root.tag) != "NotificationConfiguration":
        raise _invalid("The root element must be NotificationConfiguration.")
    elements = _children(root, "TopicConfiguration")
    if len(elements) > MAX_CONFIGURATIONS:
        raise _invalid(f"At most {MAX_CONFIGURATIONS} TopicConfiguration elements are allowed.")
    configurations = []
    for element in elements:
        topic = _text(element, "Topic")
        events = tuple((event.text or "").strip() for event in _children(element, "Event"))
        if not topic:
            raise _invalid("A TopicConfiguration needs a Topic.")
        if not events or any(event not in EVENTS for event in events):
            raise _invalid(f"The specified event is not supported: {', '.join(events) or 'none'}.")
        rules = []
        objects = [obj for filters in _children(element, "Filter") for obj in _children(filters, "Object")]
        for rule in (rule for obj in objects for rule in _children(obj, "FilterRule")):
            name, value = (_text(rule, "Name") or "").lower(), _text(rule, "Value") or ""
            if name not in ("prefix", "suffix") or len(value) > MAX_FILTER_VALUE:
                raise _invalid("A FilterRule's Name is prefix or suffix, its Value 1024 characters at most.")
            rules.append((name, value))
        configuration_id = _text(element, "Id") or secrets.token_hex(8)  # OBS assigns one if none is given
        configurations.append(TopicConfiguration(configuration_id, topic, events, tuple(rules)))
    ids = [configuration.id for configuration in configurations]
    if len(set(ids)) != len(ids):
        raise _invalid("Each TopicConfiguration needs its own Id.")
    return tuple(configurations)


def _rule(configuration: TopicConfiguration, name: str) -> str:
    return next((value for rule, value in configuration.filter_rules if rule == name), "")


def _overlap(first: TopicConfiguration, second: TopicConfiguration) -> bool:
    """Shared events, and each object name could match both filters (one prefix starts the other)."""
    events = any(fnmatchcase(a, b) or fnmatchcase(b, a) for a in first.events for b in second.events)
    first_prefix, second_prefix = _rule(first, "prefix"), _rule(second, "prefix")
    first_suffix, second_suffix = _rule(first, "suffix"), _rule(second, "suffix")
    prefixes = first_prefix.startswith(second_prefix) or second_prefix.startswith(first_prefix)
    suffixes = first_suffix.endswith(second_suffix) or second_suffix.endswith(first_suffix)
    return events and prefixes and suffixes


def _check(state: EmulatorState, bucket: Bucket, configurations: tuple[TopicConfiguration, ...]) -> None:
    for index, configuration in enumerate(configurations):
        parts = configuration.topic.split(":")
        if len(parts) != 5 or parts[:2] != ["urn", "smn"]:
            raise _invalid(f"The specified URN is incorrect: {configuration.topic}.")
        if parts[2] != bucket.region:
            raise _invalid("The specified region in the URN is different from the region of the bucket.")
        topic = state.smn_topics.topic(configuration.topic)
        if topic is None or not obs_may_publish(topic.access_policy, topic.urn):
            raise _invalid(
                f"The specified URN does not exist or is not authorized to OBS: {configuration.topic}."
            )
        if any(_overlap(configuration, other) for other in configurations[index + 1 :]):
            raise _invalid("The specified filtering rules overlap.")


def put_notification(state: EmulatorState, bucket: Bucket, body: bytes) -> Reply:
    configurations = parse_configuration(body)
    _check(state, bucket, configurations)
    bucket.notification = configurations
    now = state.now()
    test_message = {
        "Service": "OBS",
        "Event": "s3:TestEvent",
        "Time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "Bucket": bucket.name,
        "RequestId": secrets.token_hex(16).upper(),
        "HostId": secrets.token_urlsafe(32),
    }
    for topic in dict.fromkeys(configuration.topic for configuration in configurations):
        state.smn_topics.publish(topic, test_message, now)
    return Reply(200, None, {"Content-Type": "application/xml"})


def get_notification(bucket: Bucket) -> Reply:
    root = ElementTree.Element("NotificationConfiguration", xmlns=XML_NAMESPACE)
    for configuration in bucket.notification:
        element = ElementTree.SubElement(root, "TopicConfiguration")
        ElementTree.SubElement(element, "Topic").text = configuration.topic
        ElementTree.SubElement(element, "Id").text = configuration.id
        if configuration.filter_rules:
            rules = ElementTree.SubElement(ElementTree.SubElement(element, "Filter"), "Object")
            for name, value in configuration.filter_rules:
                rule = ElementTree.SubElement(rules, "FilterRule")
                ElementTree.SubElement(rule, "Name").text = name
                ElementTree.SubElement(rule, "Value").text = value
        for event in configuration.events:
            ElementTree.SubElement(element, "Event").text = event
    body = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + ElementTree.tostring(root)
    return Reply(200, headers={"Content-Type": "application/xml"}, raw=body)
