"""What a verified SMN delivery makes happen: a confirmed subscription, an image-created trace found in a
notification, or nothing (an unsubscribe confirmation, any other message)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict

from ims_export.cloud.http import timeouts
from ims_export.domain.obs_notifications import ObjectCreated, parse_obs_notification
from ims_export.errors import (
    InvalidRequestError,
    SubscriptionConfirmationError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ims_export.smn.messages import SmnMessage, SmnMessageType, parse_smn_message, refusal, require_verified
from ims_export.smn.verify import SmnVerifier
from ims_export.triggers.cts import image_id_from_trace, is_image_created_trace

# Hosts that may serve the subscription links of each SMN cloud domain, besides the SMN host itself
# (smn.<region>.<domain>). The documentation masks the host ("console.******.com"): these are the
# public console names of each cloud; pass ``allowed_hosts`` to change them.
DEFAULT_CONFIRM_HOSTS: Mapping[str, frozenset[str]] = {
    "otc.t-systems.com": frozenset({"console.otc.t-systems.com"}),
    "sc.otc.t-systems.com": frozenset({"console.sc.otc.t-systems.com"}),
    "myhuaweicloud.com": frozenset(
        {"console.huaweicloud.com", "console-intl.huaweicloud.com", "console.myhuaweicloud.com"}
    ),
    "myhuaweicloud.eu": frozenset({"console.eu.huaweicloud.com", "console.myhuaweicloud.eu"}),
}


def _cloud_domain(cert_host: str) -> str:
    """``smn.<region>.<domain>`` gives ``<domain>``; any other certificate host drops its first label."""
    labels = cert_host.split(".")
    return ".".join(labels[2:] if labels[0] == "smn" and len(labels) > 3 else labels[1:])


def _confirm_host_allowed(
    message: SmnMessage, host: str, allowed_hosts: Mapping[str, Collection[str]]
) -> bool:
    """The host is the certificate's own host, or serves subscription links of the cloud whose SMN
    signed the message (``allowed_hosts`` maps a cloud domain to those hosts)."""
    cert_host = urlsplit(message.signing_cert_url).hostname or ""
    return bool(cert_host) and (host == cert_host or host in allowed_hosts.get(_cloud_domain(cert_host), ()))


def confirm_subscription(
    message: SmnMessage,
    session: requests.Session,
    *,
    allowed_hosts: Mapping[str, Collection[str]] = DEFAULT_CONFIRM_HOSTS,
    connect_timeout_seconds: float = 3.05,
    read_timeout_seconds: float = 10.0,
) -> str:
    """GET the subscribe_url of a verified SubscriptionConfirmation; return a short status.

    The link is only followed when it is HTTPS on the SMN or console host of the same cloud as the
    certificate; redirects are not followed. The link's token never appears in errors.
    """
    require_verified(message)
    if message.type is not SmnMessageType.SUBSCRIPTION_CONFIRMATION or message.subscribe_url is None:
        raise InvalidRequestError("only a SubscriptionConfirmation can be confirmed", code="NotConfirmation")
    url = message.subscribe_url.get_secret_value()
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" or "@" in parts.netloc or parts.port is not None:
        raise refusal("the subscribe URL is not plain HTTPS", "SubscribeUrlNotAllowed")
    if not _confirm_host_allowed(message, host, allowed_hosts):
        raise refusal(f"the subscribe URL host {host!r} is not allowed", "SubscribeUrlNotAllowed")
    try:
        with session.get(
            url,
            timeout=timeouts(connect_timeout_seconds, read_timeout_seconds),
            verify=True,
            allow_redirects=False,
            stream=True,
        ) as response:
            status = response.status_code
    except (requests.Timeout, requests.ConnectionError):
        raise UpstreamTimeoutError(f"confirming the subscription at {host!r} failed") from None
    if status == 429:
        raise UpstreamThrottledError("SMN throttled the subscription confirmation", status=status)
    if status >= 500:
        raise UpstreamUnavailableError(f"{host!r} answered {status} to the confirmation", status=status)
    if not 200 <= status < 300:
        raise SubscriptionConfirmationError(
            f"{host!r} answered {status} to the confirmation (expired or used link?)", status=status
        )
    return f"subscription to {message.topic_urn} confirmed (HTTP {status})"


# Keys under which a trace may be wrapped, tried in this order, and how deep to look.
TRACE_WRAPPER_KEYS = ("cts", "trace", "detail", "data", "message", "body", "content")
MAX_TRACE_DEPTH = 4
MAX_TRACE_LIST_ITEMS = 50


def _nested(value: Any) -> list[Any]:
    """The values inside ``value`` that may hold a trace: decoded JSON, list items, wrapper keys."""
    if isinstance(value, str):
        try:
            return [json.loads(value)]  # may be encoded more than once
        except (ValueError, RecursionError):
            return []
    if isinstance(value, list):
        return value[:MAX_TRACE_LIST_ITEMS]
    if isinstance(value, Mapping):
        return [value.get(key) for key in TRACE_WRAPPER_KEYS]
    return []


def _find_image_created_trace(value: Any, depth: int) -> Mapping[str, Any] | None:
    if depth > MAX_TRACE_DEPTH:
        return None
    if isinstance(value, Mapping) and "trace_name" in value:
        is_trace = isinstance(value["trace_name"], str) and is_image_created_trace(value)
        return value if is_trace else None
    for inner in _nested(value):
        found = _find_image_created_trace(inner, depth + 1)
        if found is not None:
            return found
    return None


def image_created_trace(message: SmnMessage) -> Mapping[str, Any] | None:
    """The successful IMS ``createImage`` CTS trace a verified Notification carries, or None.

    The body is not documented: the trace may be JSON in ``message``, encoded twice, or wrapped
    (``{"cts": {...}}``, a list of traces, ...). Anything else gives None, never an exception.
    """
    require_verified(message)
    if message.type is not SmnMessageType.NOTIFICATION:
        return None
    return _find_image_created_trace(message.message, 0)


class SmnOutcome(BaseModel):
    """What handling one SMN message led to; ``image_id`` is set only for an image-created trace,
    ``created`` only for an OBS notification of created objects."""

    model_config = ConfigDict(frozen=True)

    action: Literal["subscription_confirmed", "image_created", "objects_created", "ignored"]
    topic_urn: str
    message_id: str
    image_id: str | None = None
    created: tuple[ObjectCreated, ...] = ()
    detail: str = ""


def _obs_notification(message: SmnMessage, base: Mapping[str, Any]) -> SmnOutcome:
    """An OBS event notification of created objects, or why the message is none (it is then ignored:
    a notification only informs, and nothing in a message that is not exactly one is acted on)."""
    try:
        notification = parse_obs_notification(message.message)
    except InvalidRequestError as error:
        return SmnOutcome(
            action="ignored",
            detail=f"neither an IMS createImage trace nor an OBS notification ({error.message})",
            **base,
        )
    if notification.is_test:
        return SmnOutcome(
            action="ignored", detail="OBS test notification (a bucket notification was set)", **base
        )
    if notification.nothing_to_do:
        detail = f"OBS notification of {notification.ignored_records} events other than object creation"
        return SmnOutcome(action="ignored", detail=detail, **base)
    created = notification.created
    detail = f"OBS notification of {len(created)} created object" + ("" if len(created) == 1 else "s")
    return SmnOutcome(action="objects_created", created=created, detail=detail, **base)


def handle_smn_message(
    body: Mapping[str, Any] | str | bytes,
    *,
    verifier: SmnVerifier,
    session: requests.Session,
    allowed_hosts: Mapping[str, Collection[str]] = DEFAULT_CONFIRM_HOSTS,
) -> SmnOutcome:
    """Parse, verify, then confirm a subscription or find the created image. Raises before any side
    effect when the message is malformed or not authentic."""
    message = parse_smn_message(body)
    verifier.verify(message)
    base = {"topic_urn": message.topic_urn, "message_id": message.message_id}
    if message.type is SmnMessageType.SUBSCRIPTION_CONFIRMATION:
        status = confirm_subscription(message, session, allowed_hosts=allowed_hosts)
        return SmnOutcome(action="subscription_confirmed", detail=status, **base)
    if message.type is SmnMessageType.UNSUBSCRIBE_CONFIRMATION:
        return SmnOutcome(action="ignored", detail="unsubscribed from the topic", **base)
    trace = image_created_trace(message)
    if trace is None:
        return _obs_notification(message, base)
    image_id = image_id_from_trace(trace)
    if image_id is None:
        raise InvalidRequestError("the createImage trace names no image id", code="ImageIdMissing")
    return SmnOutcome(action="image_created", image_id=image_id, **base)
