"""What the wiring command is given, checked before any call: the stack's SMN endpoint, the bucket, the
object pattern (whose fixed start is the notification's prefix filter) and the topic's name.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from urllib.parse import urlsplit

from ims_export.domain.export_request import check_bucket_name
from ims_export.domain.naming import check_pattern
from ims_export.errors import ImsExportError

DEFAULT_TOPIC_NAME = "ims-export-obs-events"
# SMN's rule for a topic name ("Creating a Topic"): 1-255 letters, digits, '-' and '_', starting with a
# letter or digit.
TOPIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")
LOOPBACK_HOST = "127.0.0.1"  # the local emulator: the only place a plain http:// endpoint is accepted


class WiringInputError(ValueError):
    """An input the command refuses before it calls anything; the message names it and what to give."""


@dataclass(frozen=True)
class WiringInputs:
    smn_endpoint: str  # the stack's SmnEndpoint output: the HTTPS subscription's endpoint
    bucket: str
    object_pattern: str
    topic_name: str = DEFAULT_TOPIC_NAME

    @property
    def protocol(self) -> str:
        """The subscription's protocol: SMN's ``https``, or ``http`` for the emulator on 127.0.0.1."""
        return urlsplit(self.smn_endpoint).scheme

    @property
    def prefix(self) -> str:
        return fixed_prefix(self.object_pattern)


def fixed_prefix(pattern: str) -> str:
    """The start of every object name the pattern renders: its text before the first placeholder
    (``exports/`` of ``exports/{image_name}-{image_id}-{date}.{format}``; ``{{`` is a literal ``{``)."""
    prefix = ""
    for literal, field, _, _ in string.Formatter().parse(pattern):
        prefix += literal
        if field is not None:
            break
    return prefix


def check_endpoint(url: str) -> str:
    """The SMN endpoint URL as given, if it is one SMN can deliver to over HTTPS (or the emulator's)."""
    if not url:
        raise WiringInputError(
            "SMN_ENDPOINT is not set: give the stack's SmnEndpoint output (an https:// URL), e.g. "
            "make wire-notifications SMN_ENDPOINT=https://<api-id>.execute-api.<region>.amazonaws.com/smn/smn"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise WiringInputError(
            f"SMN_ENDPOINT {url!r} is not a URL: give the stack's SmnEndpoint output"
        ) from None
    if parts.username or parts.password or parts.fragment or any(char.isspace() for char in url):
        raise WiringInputError("SMN_ENDPOINT must be a plain URL, without user, password, fragment or spaces")
    local = parts.scheme == "http" and parts.hostname == LOOPBACK_HOST
    if not parts.hostname or not (parts.scheme == "https" or local):
        raise WiringInputError(
            f"SMN_ENDPOINT must be an https:// URL (SMN delivers OBS's notifications there; http:// only "
            f"for the local emulator on {LOOPBACK_HOST}), not {url!r}"
        )
    return url


def check_inputs(smn_endpoint: str, bucket: str, object_pattern: str, topic_name: str) -> WiringInputs:
    """The inputs, each checked; WiringInputError names the first one refused."""
    endpoint = check_endpoint(smn_endpoint.strip())
    if not bucket:
        raise WiringInputError("EXPORT_BUCKET is not set: give the bucket the exports are written to")
    try:
        check_bucket_name(bucket)
    except ImsExportError as error:
        raise WiringInputError(f"EXPORT_BUCKET {bucket!r} is refused: {error.message}") from None
    try:
        check_pattern(object_pattern)
    except ImsExportError as error:
        raise WiringInputError(
            f"EXPORT_OBJECT_PATTERN {object_pattern!r} is refused: {error.message}"
        ) from None
    if not TOPIC_NAME.fullmatch(topic_name):
        raise WiringInputError(
            f"TOPIC {topic_name!r} is not an SMN topic name: 1-255 letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return WiringInputs(endpoint, bucket, object_pattern, topic_name)
