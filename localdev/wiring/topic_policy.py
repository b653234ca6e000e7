"""The SMN topic policy statement that lets OBS publish, and how it is added to or taken out of a
policy that may hold other statements.

The form is SMN's API reference's ("Updating a Topic Policy", smn_api_51007; "Querying a Topic Policy",
smn_api_51006): a JSON document, sent as text, ``{"Version": "2016-09-07", "Id": ..., "Statement":
[...]}``; a statement allowing a cloud service names it in lower case under ``Principal.Service``:

    {"Sid": "...", "Effect": "Allow", "Principal": {"Service": ["obs"]},
     "Action": ["SMN:Publish", "SMN:QueryTopicDetail"], "Resource": "<topic URN>"}

Statement ids must be unique; a policy holds at least one statement (so removing the last one deletes
the attribute, which leaves SMN's default: an empty policy).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

POLICY_VERSION = "2016-09-07"
DEFAULT_POLICY_ID = "__default_policy_ID"
STATEMENT_ID = "ims-export-obs-publish"
OBS_SERVICE = "obs"
ACTIONS = ("SMN:Publish", "SMN:QueryTopicDetail")


class TopicPolicyError(ValueError):
    """The topic's policy is not a document this command can change without losing something."""


def obs_statement(topic_urn: str) -> dict[str, Any]:
    return {
        "Sid": STATEMENT_ID,
        "Effect": "Allow",
        "Principal": {"Service": [OBS_SERVICE]},
        "Action": list(ACTIONS),
        "Resource": topic_urn,
    }


def read_policy(text: str) -> dict[str, Any] | None:
    """The policy document, or None where the topic has none (SMN's default, an empty string)."""
    if not text.strip():
        return None
    try:
        policy = json.loads(text)
    except ValueError:
        raise TopicPolicyError("the topic's access policy is not JSON: fix or delete it first") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement", []), list):
        raise TopicPolicyError("the topic's access policy has no Statement list: fix or delete it first")
    return policy


def statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [item for item in (policy or {}).get("Statement", []) if isinstance(item, dict)]


def _listed(value: Any) -> list[str]:
    return [str(item) for item in (value if isinstance(value, list) else [value] if value else [])]


def _names_obs(principal: Any, *, or_anyone: bool) -> bool:
    """The principal is the service ``obs`` (in any case), or, ``or_anyone``, anyone: ``"*"``, a ``*``
    service or account (whether SMN counts OBS among those is not documented: a Deny of them may)."""
    if principal == "*":
        return or_anyone
    if not isinstance(principal, dict):
        return False
    services = [service.lower() for service in _listed(principal.get("Service"))]
    anyone = "*" in services or "*" in _listed(principal.get("CSP"))
    return OBS_SERVICE in services or (or_anyone and anyone)


def _effect(statement: dict[str, Any]) -> str:
    return str(statement.get("Effect", "")).capitalize()


def _about_obs_publishing(statement: dict[str, Any], topic_urn: str) -> bool:
    return (
        _names_obs(statement.get("Principal"), or_anyone=_effect(statement) == "Deny")
        and any(fnmatchcase("smn:publish", action.lower()) for action in _listed(statement.get("Action")))
        and any(fnmatchcase(topic_urn, resource) for resource in _listed(statement.get("Resource")))
    )


def obs_may_publish(policy: dict[str, Any] | None, topic_urn: str) -> str | None:
    """The Sid of a statement that lets OBS publish to the topic, or None. A statement that denies it
    is refused (``TopicPolicyError``): a Deny outranks any Allow, so adding one would change nothing,
    and this command takes out no statement it did not write."""
    relevant = [item for item in statements(policy) if _about_obs_publishing(item, topic_urn)]
    denying = [str(item.get("Sid") or "(no Sid)") for item in relevant if _effect(item) == "Deny"]
    if denying:
        raise TopicPolicyError(
            f"the topic's access policy denies OBS publishing to {topic_urn} (statement "
            f"{', '.join(denying)}): a Deny outranks any Allow, so OBS could not notify the endpoint. "
            "Take that statement out of the topic's policy (SMN console or API) and run again: this "
            "command changes no statement it did not write"
        )
    allowing = [item for item in relevant if _effect(item) == "Allow"]
    return str(allowing[0].get("Sid") or "(no Sid)") if allowing else None


def with_obs_statement(policy: dict[str, Any] | None, topic_urn: str) -> str:
    """The policy text with this command's statement added (or put in place of an older one of its Sid),
    every other statement kept as it was."""
    document: dict[str, Any] = dict(policy or {"Version": POLICY_VERSION, "Id": DEFAULT_POLICY_ID})
    others = [item for item in (policy or {}).get("Statement", []) if not _is_ours(item)]
    document["Statement"] = [*others, obs_statement(topic_urn)]
    return json.dumps(document)


def without_obs_statement(policy: dict[str, Any] | None) -> str | None:
    """The policy text without this command's statement; None when nothing else is left (the policy is
    then deleted: SMN refuses one without statements)."""
    others = [item for item in (policy or {}).get("Statement", []) if not _is_ours(item)]
    if not others:
        return None
    return json.dumps({**(policy or {}), "Statement": others})


def has_our_statement(policy: dict[str, Any] | None) -> bool:
    return any(_is_ours(item) for item in (policy or {}).get("Statement", []))


def _is_ours(statement: Any) -> bool:
    return isinstance(statement, dict) and statement.get("Sid") == STATEMENT_ID
