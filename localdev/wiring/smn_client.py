"""SMN's topic management API (v2) with an IAM token: the calls that wire OBS notifications to a stack.

Paths and bodies as OTC's SMN API reference gives them (opentelekomcloud-docs/simple-message-notification,
``api-ref/source/apis/topic_operations/*.rst`` and ``subscription_operations/*.rst``; the same paths as
huaweicloud-sdk-python-v3 ``huaweicloud-sdk-smn/huaweicloudsdksmn/v2/smn_client.py``):

- ``GET /v2/{project_id}/notifications/topics?offset=&limit=`` (ListTopics): ``topic_count`` and
  ``topics`` (``topic_urn``, ``name``, ``display_name``), at most 100 a page.
- ``POST /v2/{project_id}/notifications/topics`` (CreateTopic) ``{"name", "display_name"}``: ``topic_urn``.
- ``DELETE /v2/{project_id}/notifications/topics/{topic_urn}`` (DeleteTopic).
- ``GET .../topics/{topic_urn}/attributes?name=access_policy`` (ListTopicAttributes): ``attributes``,
  the policy as JSON text (empty by default); ``PUT .../attributes/access_policy`` (UpdateTopicAttribute)
  ``{"value": "<policy JSON as text>"}``; ``DELETE .../attributes/access_policy``.
- ``GET .../topics/{topic_urn}/subscriptions?offset=&limit=`` (ListSubscriptionsByTopic):
  ``subscription_count`` and ``subscriptions`` (``subscription_urn``, ``protocol``, ``endpoint``,
  ``status``: 0 unconfirmed, 1 confirmed, 3 canceled); ``POST .../subscriptions`` (Subscribe)
  ``{"protocol", "endpoint", "remark"}``: ``subscription_urn``;
  ``DELETE /v2/{project_id}/notifications/subscriptions/{subscription_urn}`` (Unsubscribe).

Errors are ``{"request_id", "code", "message"}`` (SMN.0006: topic not found). Messages name the call,
the status and SMN's code and message, never the token.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from ims_export.cloud.redaction import redact_message
from ims_export.domain.tokens import IssuedToken
from ims_export.smn.messages import TOPIC_URN_PATTERN

PAGE_SIZE = 100  # SMN's largest page
MAX_PAGES = 1000


class SmnApiError(Exception):
    """SMN refused a call or answered what the reference does not describe."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class TopicInfo:
    urn: str
    name: str
    display_name: str


@dataclass(frozen=True)
class SubscriptionInfo:
    urn: str
    protocol: str
    endpoint: str
    status: int

    @property
    def confirmed(self) -> bool:
        return self.status == 1


class SmnClient:
    """One project's SMN topics, with one IAM token (a run of the command takes seconds)."""

    def __init__(
        self,
        endpoint: str,
        token: IssuedToken,
        session: requests.Session,
        timeout: tuple[float, float],
    ) -> None:
        self._base = f"{endpoint.rstrip('/')}/v2/{token.project_id}/notifications"
        self._token = token
        self._session = session
        self._timeout = timeout

    # --- topics ----------------------------------------------------------------------------------

    def find_topic(self, name: str) -> TopicInfo | None:
        """The topic of that name in the project, read page by page (the list is not filtered by name
        on every cloud)."""
        for offset in range(0, PAGE_SIZE * MAX_PAGES, PAGE_SIZE):
            answer = self._call("GET", "/topics", f"list topics (from {offset})", offset=offset)
            topics = _list(answer, "topics", "list topics")
            for topic in topics:
                if isinstance(topic, dict) and topic.get("name") == name:
                    urn = str(topic.get("topic_urn") or "")
                    if not SMN_URN.fullmatch(urn):
                        raise SmnApiError(f"list topics: topic {name} is listed without a readable topic_urn")
                    return TopicInfo(urn, name, str(topic.get("display_name") or ""))
            if not topics or offset + len(topics) >= _count(answer, "topic_count", "list topics"):
                return None
        raise SmnApiError(f"list topics: more than {MAX_PAGES} pages")

    def create_topic(self, name: str, display_name: str) -> str:
        answer = self._call(
            "POST", "/topics", f"create topic {name}", body={"name": name, "display_name": display_name}
        )
        return _text(answer, "topic_urn", f"create topic {name}")

    def delete_topic(self, topic_urn: str) -> None:
        self._call("DELETE", f"/topics/{_in_path(topic_urn)}", f"delete topic {topic_urn}")

    # --- the topic's access policy ---------------------------------------------------------------

    def access_policy(self, topic_urn: str) -> str:
        """The policy as JSON text; empty where none is set (SMN's default)."""
        operation = f"read the access policy of {topic_urn}"
        answer = self._call(
            "GET", f"/topics/{_in_path(topic_urn)}/attributes", operation, name="access_policy"
        )
        attributes = answer.get("attributes")
        if not isinstance(attributes, dict):
            raise SmnApiError(f"{operation}: SMN answered without attributes")
        value = attributes.get("access_policy") or ""
        if not isinstance(value, str):
            raise SmnApiError(f"{operation}: the access_policy attribute is not text")
        return value

    def set_access_policy(self, topic_urn: str, policy_text: str) -> None:
        operation = f"update the access policy of {topic_urn}"
        self._call(
            "PUT",
            f"/topics/{_in_path(topic_urn)}/attributes/access_policy",
            operation,
            body={"value": policy_text},
        )

    def delete_access_policy(self, topic_urn: str) -> None:
        operation = f"delete the access policy of {topic_urn}"
        self._call("DELETE", f"/topics/{_in_path(topic_urn)}/attributes/access_policy", operation)

    # --- subscriptions ---------------------------------------------------------------------------

    def subscriptions(self, topic_urn: str) -> list[SubscriptionInfo]:
        operation = f"list subscriptions of {topic_urn}"
        found: list[SubscriptionInfo] = []
        for offset in range(0, PAGE_SIZE * MAX_PAGES, PAGE_SIZE):
            answer = self._call(
                "GET", f"/topics/{_in_path(topic_urn)}/subscriptions", operation, offset=offset
            )
            page = _list(answer, "subscriptions", operation)
            for item in page:
                if not isinstance(item, dict):
                    raise SmnApiError(f"{operation}: a subscription is not an object")
                found.append(
                    SubscriptionInfo(
                        urn=str(item.get("subscription_urn") or ""),
                        protocol=str(item.get("protocol") or ""),
                        endpoint=str(item.get("endpoint") or ""),
                        status=_status(item.get("status")),
                    )
                )
            if not page or offset + len(page) >= _count(answer, "subscription_count", operation):
                return found
        raise SmnApiError(f"{operation}: more than {MAX_PAGES} pages")

    def subscribe(self, topic_urn: str, protocol: str, endpoint: str, remark: str) -> str:
        operation = f"subscribe {endpoint} to {topic_urn}"
        body = {"protocol": protocol, "endpoint": endpoint, "remark": remark}
        answer = self._call("POST", f"/topics/{_in_path(topic_urn)}/subscriptions", operation, body=body)
        return _text(answer, "subscription_urn", operation)

    def unsubscribe(self, subscription_urn: str) -> None:
        operation = f"delete subscription {subscription_urn}"
        self._call("DELETE", f"/subscriptions/{_in_path(subscription_urn)}", operation)

    # --- transport -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        body: dict[str, Any] | None = None,
        offset: int | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        # The query in the documented order (offset, limit; name), built here so that tests see it as sent.
        params = [f"offset={offset}", f"limit={PAGE_SIZE}"] if offset is not None else []
        params += [f"name={name}"] if name else []
        query = "?" + "&".join(params) if params else ""
        token = self._token.value.get_secret_value()
        headers = {"X-Auth-Token": token, "Content-Type": "application/json;charset=UTF-8"}
        try:
            response = self._session.request(
                method,
                f"{self._base}{path}{query}",
                data=json.dumps(body).encode() if body is not None else None,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect would carry the token to another host
            )
        except requests.RequestException as error:
            raise SmnApiError(f"{operation}: no answer from SMN ({type(error).__name__})") from None
        try:
            answer: Any = response.json() if response.content else {}
        except ValueError:
            answer = None
        if not 200 <= response.status_code < 300:
            code = answer.get("code") or answer.get("error_code") if isinstance(answer, dict) else None
            message = (answer.get("message") or answer.get("error_msg")) if isinstance(answer, dict) else None
            text = (
                f"{operation}: SMN answered {response.status_code} {code or ''}: {message or response.reason}"
            )
            raise SmnApiError(redact_message(text, (token,)), status=response.status_code, code=code)
        if not isinstance(answer, dict):
            raise SmnApiError(f"{operation}: SMN's answer is not a JSON object", status=response.status_code)
        return answer


def _list(answer: dict[str, Any], field: str, operation: str) -> list[Any]:
    value = answer.get(field, [])
    if not isinstance(value, list):
        raise SmnApiError(f"{operation}: {field} is not a list")
    return value


def _count(answer: dict[str, Any], field: str, operation: str) -> int:
    value = answer.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SmnApiError(f"{operation}: SMN answered without {field}")
    return value


def _text(answer: dict[str, Any], field: str, operation: str) -> str:
    value = answer.get(field)
    if not isinstance(value, str) or not value:
        raise SmnApiError(f"{operation}: SMN answered without {field}")
    return value


# A topic's URN as the SMN endpoint reads it, or a subscription's (the topic's and :<id>).
SMN_URN = re.compile(TOPIC_URN_PATTERN.removeprefix("^").removesuffix("$") + r"(:[A-Za-z0-9]{1,64})?")


def _in_path(urn: str) -> str:
    """A URN as a path segment: only one SMN wrote, quoted (it goes into the API's path)."""
    if not SMN_URN.fullmatch(urn):
        raise SmnApiError(f"{urn!r} is not an SMN URN")
    return quote(urn, safe=":")


def _status(value: object) -> int:
    """A subscription's status (0 unconfirmed, 1 confirmed, ...); -1 for one SMN did not give as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return -1
