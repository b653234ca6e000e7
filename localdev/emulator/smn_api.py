"""SMN's topic management API (v2), as OTC's SMN API reference documents it: what wiring OBS event
notifications to the stack needs.

| Method and path (under ``/v2/{project_id}/notifications``) | Body; answer                             |
|------------------------------------------------------------|------------------------------------------|
| POST   /topics                                             | {"name", "display_name"}; {"topic_urn"}  |
| GET    /topics?offset=&limit=                              | {"topic_count", "topics"}, newest first  |
| DELETE /topics/{topic_urn}                                 | (its subscriptions go with it)           |
| GET    /topics/{topic_urn}/attributes?name=access_policy   | {"attributes": {"access_policy": "..."}} |
| PUT    /topics/{topic_urn}/attributes/{name}               | {"value": "<policy JSON as text>"}       |
| DELETE /topics/{topic_urn}/attributes/{name}               |                                          |
| POST   /topics/{topic_urn}/subscriptions                   | {"protocol", "endpoint", "remark"} (1)   |
| GET    /topics/{topic_urn}/subscriptions?offset=&limit=    | {"subscription_count", "subscriptions"}  |
| DELETE /subscriptions/{subscription_urn}                   |                                          |

(1) answered {"subscription_urn"}. Creating a topic or a subscription that exists is answered 200 with
it, a new one 201 (both are documented as idempotent).

And ``GET /smn/subscription/confirm?token=...``, the ``subscribe_url`` of a confirmation (no token).
Every other call needs an IAM token of the project in the path. Errors are SMN's ``{"request_id",
"code", "message"}`` with the documented codes (SMN.0002 name, SMN.0006 topic not found, SMN.0011
protocol, SMN.0012 endpoint, SMN.0046 attribute name, SMN.0048-0056 policy, ...; SMN.0400 and SMN.0404,
a body that is not JSON and an unknown path, are the emulator's own).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import unquote

from localdev.emulator.ims import require_token
from localdev.emulator.replies import ApiError, Reply
from localdev.emulator.request import Request
from localdev.emulator.smn_topics import CONFIRM_PATH, Topic
from localdev.emulator.state import EmulatorState

_BASE = r"/v2/(?P<project_id>[^/]+)/notifications"
_TOPIC = _BASE + r"/topics/(?P<topic_urn>[^/]+)"
TOPIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")
ATTRIBUTES = ("access_policy", "introduction")
POLICY_VERSION = "2016-09-07"
MAX_POLICY_BYTES = 30 * 1024
MAX_DISPLAY_NAME_BYTES = 192
MAX_REMARK_BYTES = 128
# The documentation gives no code for a body that is not JSON or a path it does not know: the
# emulator's own choice, as IMG.0404 is in ims.py.
BAD_BODY_CODE, UNKNOWN_PATH_CODE = "SMN.0400", "SMN.0404"


def smn_error(status: int, code: str, message: str) -> ApiError:
    return ApiError(Reply(status, {"request_id": secrets.token_hex(16), "code": code, "message": message}))


def _ok(body: dict[str, Any], status: int = 200) -> Reply:
    return Reply(status, {"request_id": secrets.token_hex(16), **body})


def _body(request: Request) -> dict[str, Any]:
    body = request.json(smn_error(400, BAD_BODY_CODE, "The request body must be JSON."))
    if not isinstance(body, dict):
        raise smn_error(400, BAD_BODY_CODE, "The request body must be a JSON object.")
    return body


def _topic(state: EmulatorState, match: re.Match[str]) -> Topic:
    topic = state.smn_topics.topic(unquote(match["topic_urn"]))
    if topic is None:
        raise smn_error(404, "SMN.0006", "Topic not found.")
    return topic


def _page(request: Request, items: list[Any]) -> list[Any]:
    try:
        offset = int((request.query.get("offset") or ["0"])[0])
        limit = int((request.query.get("limit") or ["100"])[0])
    except ValueError:
        raise smn_error(400, "SMN.0015", "Parameter: Offset or limit is invalid.") from None
    if offset < 0 or not 1 <= limit <= 100:
        raise smn_error(400, "SMN.0015", "Parameter: Offset or limit is invalid.")
    return items[offset : offset + limit]


# --- topics -------------------------------------------------------------------------------------


def _create_topic(state: EmulatorState, request: Request, match: re.Match[str]) -> Reply:
    body = _body(request)
    name, display_name = body.get("name"), body.get("display_name")
    if not isinstance(name, str) or not TOPIC_NAME.fullmatch(name):
        raise smn_error(400, "SMN.0002", "Parameter: Name is invalid.")
    if not isinstance(display_name, str) or len(display_name.encode()) > MAX_DISPLAY_NAME_BYTES:
        raise smn_error(400, "SMN.0003", "Parameter: DisplayName is invalid.")
    topic, created = state.smn_topics.create(name, display_name, state.now())
    return _ok({"topic_urn": topic.urn}, 201 if created else 200)


def _list_topics(state: EmulatorState, request: Request, match: re.Match[str]) -> Reply:
    topics = state.smn_topics.topics()
    page = _page(request, topics)
    return _ok({"topic_count": len(topics), "topics": [topic.answer() for topic in page]})


def _delete_topic(state: EmulatorState, request: Request, match: re.Match[str]) -> Reply:
    state.smn_topics.delete(_topic(state, match).urn)
    return _ok({})


# --- attributes (the topic policy) --------------------------------------------------------------


def _attribute_name(name: str) -> str:
    if name not in ATTRIBUTES:
        raise smn_error(400, "SMN.0046", "Parameter: Attribute name is invalid.")
    return name


def _list_attributes(state: EmulatorState, request: Request, match: re.Match[str]) -> Reply:
    topic = _topic(state, match)
    values = {"access_policy": topic.access_policy, "introduction": topic.introduction}
    names = request.query.get("name")
    if names and names[0]:
        values = {_attribute_name(names[0]): values[names[0]]}
    return _ok({"attributes": values})


def check_policy(text: Any) -> None:
    """SMN's checks of an access policy ("Updating a Topic Policy", Tables 1 and 2)."""
    if not isinstance(text, str) or len(text.encode()) > MAX_POLICY_BYTES:
        raise smn_error(403, "SMN.0047", "Parameter: Value exceeds the maximum length.")
    try:
        policy = json.loads(text)
    except ValueError:
        raise smn_error(400, "SMN.0048", "Parameter: Access policy is invalid.") from None
    if not isinstance(policy, dict):
        raise smn_error(400, "SMN.0048", "Parameter: Access policy is invalid.")
    if policy.get("Version") != POLICY_VERSION:
        raise smn_error(400, "SMN.0049", "Parameter: Access policy version is invalid.")
    if not isinstance(policy.get("Id"), str) or not policy["Id"]:
        raise smn_error(400, "SMN.0050", "Parameter: Access policy ID is invalid.")
    statements = policy.get("Statement")
    if not isinstance(statements, list) or not statements:
        raise smn_error(400, "SMN.0051", "Parameter: Access policy statement is invalid.")
    sids = [statement.get("Sid") if isinstance(statement, dict) else None for statement in statements]
    if any(not isinstance(sid, str) or not sid for sid in sids) or len(set(sids)) != len(sids):
        raise smn_error(400, "SMN.0052", "Parameter: Access policy statement ID is invalid.")
    for statement in statements:
        if not ("Resource" in statement) ^ ("NotResource" in statement):
            raise smn_error(400, "SMN.0053", "Parameter: Access policy statement resource is invalid.")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise smn_error(400, "SMN.0054", "Parameter: Access policy statement effect is invalid.")
        if not ("Action" in statement) ^ ("NotAction" in statement):
            raise smn_error(400, "SMN.0055", "Parameter: Access policy statement action is invalid.")
        if not ("Principal" in statement) ^ ("NotPrincipal" in statement):
            raise smn_error(400, "SMN.0056", "Parameter: Access policy statement principle is invalid.")


def _update_attribute(state: EmulatorState, request: Request, match: re.Match[str]) -> Reply:
    topic = _topic(state, match)
    name = _attribute_name(match["name"])
    value = _body(request).get("value")
    if name == "access_policy":
        check_policy(value)
    elif not isinstance(value, str) or len(value.encode()) > 120:
        raise smn_error(403, "SMN.0047", "Parameter: Value exceeds the maximum length.")
    with state.smn_topics.lock:
        setattr(topic, name, value)
    return _ok({})


def _delete_attribute(state: EmulatorState, request: Request, match: re.Match[str]) -> Reply:
    topic = _topic(state, match)
    with state.smn_topics.lock:
        setattr(topic, _attribute_name(match["name"]), "")
    return _ok({})


# --- subscriptions ------------------------------------------------------------------------------


def _subscribe(state: EmulatorState, request: Request, match: re.Match[str]) -> Reply:
    topic = _topic(state, match)
    body = _body(request)
    protocol, endpoint, remark = body.get("protocol"), body.get("endpoint"), body.get("remark", "")
    if protocol not in ("http", "https", "email", "sms"):
        raise smn_error(400, "SMN.0011", "Parameter: Protocol is invalid.")
    if not isinstance(endpoint, str) or (
        protocol in ("http", "https") and not endpoint.startswith(f"{protocol}://")
    ):
        raise smn_error(400, "SMN.0012", "Parameter: Endpoint is invalid.")
    if not isinstance(remark, str) or len(remark.encode()) > MAX_REMARK_BYTES:
        raise smn_error(400, "SMN.0017", "Parameter: Remark is invalid.")
    subscription, created = state.smn_topics.subscribe(
        topic, protocol, endpoint, remark=remark, base_url=request.base_url, now=state.now()
    )
    return _ok({"subscription_urn": subscription.urn}, 201 if created else 200)


def _list_subscriptions(state: EmulatorState, request: Request, match: re.Match[str]) -> Reply:
    topic = _topic(state, match)
    with state.smn_topics.lock:
        listed = [subscription.answer(state.smn_topics.project_id) for subscription in topic.subscriptions]
    return _ok({"subscription_count": len(listed), "subscriptions": _page(request, listed)})


def _unsubscribe(state: EmulatorState, request: Request, match: re.Match[str]) -> Reply:
    if not state.smn_topics.unsubscribe(unquote(match["subscription_urn"])):
        raise smn_error(404, "SMN.0013", "Subscription resource not found.")
    return _ok({})


def _confirm(state: EmulatorState, request: Request) -> Reply:
    token = (request.query.get("token") or [""])[0]
    if not token or state.smn_topics.confirm(token) is None:
        raise smn_error(404, "SMN.0013", "Subscription resource not found.")
    return _ok({"message": "The subscription is confirmed."})


ROUTES = [
    ("POST", _BASE + r"/topics", _create_topic),
    ("GET", _BASE + r"/topics", _list_topics),
    ("DELETE", _TOPIC, _delete_topic),
    ("GET", _TOPIC + r"/attributes", _list_attributes),
    ("PUT", _TOPIC + r"/attributes/(?P<name>[^/]+)", _update_attribute),
    ("DELETE", _TOPIC + r"/attributes/(?P<name>[^/]+)", _delete_attribute),
    ("POST", _TOPIC + r"/subscriptions", _subscribe),
    ("GET", _TOPIC + r"/subscriptions", _list_subscriptions),
    ("DELETE", _BASE + r"/subscriptions/(?P<subscription_urn>[^/]+)", _unsubscribe),
]
_COMPILED = [(method, re.compile(pattern), handler) for method, pattern, handler in ROUTES]


def handles(request: Request) -> bool:
    return request.path == CONFIRM_PATH or (
        request.path.startswith("/v2/") and "/notifications/" in request.path + "/"
    )


def handle(state: EmulatorState, request: Request) -> Reply:
    if request.path == CONFIRM_PATH:
        return _confirm(state, request)
    path_known = False
    for method, pattern, handler in _COMPILED:
        match = pattern.fullmatch(request.path)
        if match is None:
            continue
        path_known = True
        if method == request.method:
            require_token(state, request, match["project_id"])
            return handler(state, request, match)
    if path_known:
        raise smn_error(405, UNKNOWN_PATH_CODE, f"Method {request.method} is not allowed here.")
    raise smn_error(404, UNKNOWN_PATH_CODE, f"No emulated SMN API at {request.path}.")
