"""The emulated SMN's topics: their access policies, their subscriptions, and the messages SMN would
deliver to the subscriptions' endpoints.

- A new HTTP(S) subscription is unconfirmed (status 0) and gets a signed SubscriptionConfirmation whose
  ``subscribe_url`` points at this emulator (``GET /smn/subscription/confirm?token=...``); a GET there
  confirms it (status 1), as SMN's user guide describes ("HTTP/HTTPS Message Format"). Only confirmed
  subscriptions receive what is published to the topic.
- The emulator never POSTs to an endpoint: each message it would deliver is kept (``messages``) for the
  control API (``GET /_emulator/smn/messages``) and for tests, with its endpoint and message type.
- ``obs_may_publish`` reads a topic's policy as SMN's API reference documents it ("Updating a Topic
  Policy"): a statement allowing ``SMN:Publish`` to the ``Service`` ``obs`` on the topic's URN.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from localdev.emulator.smn import EmulatorSmn

UNCONFIRMED, CONFIRMED = 0, 1
CONFIRM_PATH = "/smn/subscription/confirm"


@dataclass
class Subscription:
    urn: str
    topic_urn: str
    protocol: str
    endpoint: str
    remark: str
    token: str = field(repr=False)  # the subscribe_url's secret, as SMN's
    status: int = UNCONFIRMED

    def answer(self, owner: str) -> dict[str, Any]:
        return {
            "topic_urn": self.topic_urn,
            "protocol": self.protocol,
            "subscription_urn": self.urn,
            "owner": owner,
            "endpoint": self.endpoint,
            "remark": self.remark,
            "status": self.status,
        }


@dataclass
class Topic:
    name: str
    urn: str
    display_name: str
    topic_id: str
    created_at: float
    access_policy: str = ""  # SMN's default: an empty string ("Topic Attribute List")
    introduction: str = ""
    subscriptions: list[Subscription] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        created = datetime.fromtimestamp(self.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "topic_urn": self.urn,
            "name": self.name,
            "display_name": self.display_name,
            "push_policy": 0,
            "enterprise_project_id": "0",
            "topic_id": self.topic_id,
            "create_time": created,
            "update_time": created,
        }


@dataclass(frozen=True)
class Delivery:
    """One POST SMN would make: to ``endpoint``, with ``X-SMN-MESSAGE-TYPE: message_type`` and ``body``."""

    endpoint: str
    message_type: str
    body: str


def obs_may_publish(policy_text: str, topic_urn: str) -> bool:
    """Whether the policy lets the service ``obs`` publish to the topic (an Allow and no Deny)."""
    try:
        policy = json.loads(policy_text) if policy_text else {}
    except ValueError:
        return False
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    effects = {
        str(statement.get("Effect", "")).capitalize()
        for statement in statements or []
        if isinstance(statement, dict) and _publishes(statement, topic_urn)
    }
    return "Allow" in effects and "Deny" not in effects


def _listed(value: Any) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value] if value else [])]


def _publishes(statement: dict[str, Any], topic_urn: str) -> bool:
    principal = statement.get("Principal")
    services = [s.lower() for s in _listed(principal.get("Service"))] if isinstance(principal, dict) else []
    actions = _listed(statement.get("Action"))
    resources = _listed(statement.get("Resource"))
    return (
        "obs" in services
        and any(fnmatchcase("smn:publish", action.lower()) for action in actions)
        and any(fnmatchcase(topic_urn, resource) for resource in resources)
    )


class SmnTopics:
    """Topics of the emulator's project; thread-safe. The signer is made on first use (a key pair)."""

    def __init__(self, region: str, project_id: str) -> None:
        self.region = region
        self.project_id = project_id
        self._lock = threading.RLock()
        self._topics: dict[str, Topic] = {}  # by URN
        self._messages: list[Delivery] = []
        self._signer: EmulatorSmn | None = None

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def urn_of(self, name: str) -> str:
        return f"urn:smn:{self.region}:{self.project_id}:{name}"

    def topics(self) -> list[Topic]:
        """Newest first, as SMN lists them."""
        with self._lock:
            return sorted(self._topics.values(), key=lambda topic: topic.created_at, reverse=True)

    def topic(self, urn: str) -> Topic | None:
        with self._lock:
            return self._topics.get(urn)

    def create(self, name: str, display_name: str, now: float) -> tuple[Topic, bool]:
        """The topic of that name, and whether it was created now (SMN's create is idempotent)."""
        with self._lock:
            urn = self.urn_of(name)
            if urn in self._topics:
                return self._topics[urn], False
            topic = Topic(name, urn, display_name, secrets.token_hex(16), now)
            self._topics[urn] = topic
            return topic, True

    def delete(self, urn: str) -> None:
        with self._lock:
            self._topics.pop(urn, None)

    def subscribe(
        self, topic: Topic, protocol: str, endpoint: str, *, remark: str, base_url: str, now: float
    ) -> tuple[Subscription, bool]:
        """The subscription of that protocol and endpoint, and whether it is new; a new one is sent
        its confirmation."""
        with self._lock:
            for existing in topic.subscriptions:
                if existing.protocol == protocol and existing.endpoint == endpoint:
                    return existing, False
            subscription = Subscription(
                urn=f"{topic.urn}:{secrets.token_hex(16)}",
                topic_urn=topic.urn,
                protocol=protocol,
                endpoint=endpoint,
                remark=remark,
                token=secrets.token_hex(32),
            )
            topic.subscriptions.append(subscription)
            url = (
                f"{base_url}{CONFIRM_PATH}?token={subscription.token}"
                f"&topic_urn={quote(topic.urn)}&region={self.region}"
            )
            body = self.signer().confirmation(topic.urn, url, _at(now))
            self._messages.append(Delivery(endpoint, "SubscriptionConfirmation", body))
            return subscription, True

    def unsubscribe(self, subscription_urn: str) -> bool:
        with self._lock:
            for topic in self._topics.values():
                for subscription in topic.subscriptions:
                    if subscription.urn == subscription_urn:
                        topic.subscriptions.remove(subscription)
                        return True
            return False

    def confirm(self, token: str) -> Subscription | None:
        with self._lock:
            for topic in self._topics.values():
                for subscription in topic.subscriptions:
                    if secrets.compare_digest(subscription.token, token):
                        subscription.status = CONFIRMED
                        return subscription
            return None

    def publish(self, topic_urn: str, message: dict[str, Any], now: float) -> int:
        """Deliver ``message`` to the topic's confirmed subscriptions; how many got it."""
        with self._lock:
            topic = self._topics.get(topic_urn)
            confirmed = [item for item in topic.subscriptions if item.status == CONFIRMED] if topic else []
            for subscription in confirmed:
                body = self.signer().notification(message, _at(now), topic_urn)
                self._messages.append(Delivery(subscription.endpoint, "Notification", body))
            return len(confirmed)

    def messages(self) -> list[Delivery]:
        with self._lock:
            return list(self._messages)

    def signer(self) -> EmulatorSmn:
        with self._lock:
            if self._signer is None:
                self._signer = _new_signer(self.region, self.project_id)
            return self._signer


def _new_signer(region: str, project_id: str) -> EmulatorSmn:
    """Loaded on first use: signing reads SMN's message form from the layer (``ims_export``), which a
    standalone emulator started with only the repository on its path finds here."""
    layer = str(Path(__file__).resolve().parents[2] / "layers" / "common")
    if layer not in sys.path:
        sys.path.append(layer)
    from localdev.emulator.smn import EmulatorSmn

    return EmulatorSmn(region, project_id)


def _at(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)
