"""Start executions the way the template's triggers would.

An EventBridge event is matched against the patterns of the state machine's ``EventBridgeRule`` events
in ``template.yaml``; the matching rule's ``Input``/``InputPath`` is applied, as EventBridge does. Any
other JSON (a manual ``StartExecution`` input, or the ``Input`` of a ``ScheduleV2`` schedule) is
passed as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.events.models import EventPattern

from localdev.cfn_yaml import load_template

EVENTBRIDGE_ENVELOPE_KEYS = frozenset({"source", "detail-type", "detail"})


class NoMatchingTriggerError(Exception):
    """An EventBridge event that no rule of the template would deliver."""


@dataclass(frozen=True)
class Trigger:
    name: str
    kind: str
    properties: dict[str, Any]


def state_machine_triggers(template_path: str | Path) -> list[Trigger]:
    template = load_template(template_path)
    triggers = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::StateMachine":
            continue
        for name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            triggers.append(Trigger(name, event.get("Type", ""), event.get("Properties") or {}))
    return triggers


def _literal(value: Any) -> Any:
    """A property's value when it is a plain literal; None when it is an intrinsic function."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
        return None
    return value


def _apply_input_path(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.removeprefix("$").strip(".").split("."):
        if part:
            value = value[part]
    return value


def is_eventbridge_event(event: Any) -> bool:
    return isinstance(event, dict) and event.keys() >= EVENTBRIDGE_ENVELOPE_KEYS


def listened_patterns(triggers: list[Trigger]) -> str:
    """What the rules listen to, for a refusal: ``source X (detail-type Y)`` per rule."""
    listened = []
    for trigger in triggers:
        pattern = _literal(trigger.properties.get("Pattern"))
        if trigger.kind != "EventBridgeRule" or not isinstance(pattern, dict):
            continue
        described = f"{trigger.name}: source {'/'.join(map(str, pattern.get('source') or ['any']))}"
        if pattern.get("detail-type"):
            described += f" with detail-type {'/'.join(map(str, pattern['detail-type']))}"
        listened.append(described)
    return "; ".join(listened) or "no EventBridge rule"


def execution_input_for(event: Any, template_path: str | Path) -> tuple[str, Any]:
    """(how it was routed, the execution input) for a trigger event."""
    if not is_eventbridge_event(event):
        return "direct input (StartExecution / schedule)", event
    triggers = state_machine_triggers(template_path)
    for trigger in triggers:
        if trigger.kind != "EventBridgeRule":
            continue
        pattern = _literal(trigger.properties.get("Pattern"))
        if pattern is None or not EventPattern.load(json.dumps(pattern)).matches_event(event):
            continue
        constant_input = _literal(trigger.properties.get("Input"))
        if constant_input is not None:
            return f"rule {trigger.name}", json.loads(constant_input)
        input_path = _literal(trigger.properties.get("InputPath"))
        if input_path:
            return f"rule {trigger.name}", _apply_input_path(event, input_path)
        return f"rule {trigger.name}", event
    raise NoMatchingTriggerError(
        f"no EventBridgeRule of the state machine matches this event "
        f"(source={event.get('source')!r}, detail-type={event.get('detail-type')!r}); the template's "
        f"rules listen to {listened_patterns(triggers)}"
    )
