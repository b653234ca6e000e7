"""What ``sam deploy`` would create, resolved locally from ``template.yaml``.

The local runner takes the state machine's definition and substitutions, the functions' handlers and
the functions' environment from the template itself (parameters at their defaults unless overridden),
so a local run exercises what is deployed rather than a hand-kept copy of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localdev.cfn_yaml import load_template
from localdev.stepfunctions import ACCOUNT_ID, REGION, LocalWorkflow

PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::StackName": "ims-export-local",
    "AWS::URLSuffix": "amazonaws.com",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


# With several state machines in the template, the single-image export is the main one.
MAIN_STATE_MACHINE = "ExportStateMachine"


class TemplateResolutionError(Exception):
    """The template uses a construct the local resolver does not understand."""


@dataclass(frozen=True)
class StateMachineSpec:
    """One AWS::Serverless::StateMachine: its definition file and resolved substitutions."""

    definition_path: Path
    substitutions: dict[str, str]


@dataclass
class LocalDeployment:
    """The state machines and functions of the template, with every value resolved.

    ``definition_path`` and ``substitutions`` are the main (export) state machine's; ``state_machines``
    holds every state machine by logical id, the main one included."""

    root: Path
    definition_path: Path
    substitutions: dict[str, str]
    handlers: dict[str, Path]
    environment: dict[str, str]
    resource_names: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    state_machines: dict[str, StateMachineSpec] = field(default_factory=dict)
    main_state_machine: str = MAIN_STATE_MACHINE
    # "POST /smn" -> the resolved request mapping template (application/json) of each API method
    # that the template deploys with these parameters (a resource whose Condition is false is absent).
    request_templates: dict[str, str] = field(default_factory=dict)
    # The stack's own S3 buckets (the fleet's), by their local names.
    buckets: list[str] = field(default_factory=list)


class _Resolver:
    def __init__(self, template: Mapping[str, Any], overrides: Mapping[str, str]) -> None:
        self.template = template
        self.parameters = {
            name: str(overrides.get(name, spec.get("Default", "")))
            for name, spec in (template.get("Parameters") or {}).items()
        }
        unknown = set(overrides) - set(self.parameters)
        if unknown:
            raise TemplateResolutionError(f"unknown template parameters: {sorted(unknown)}")
        self.resources: Mapping[str, Any] = template.get("Resources") or {}
        self.conditions: Mapping[str, Any] = template.get("Conditions") or {}

    def physical_name(self, logical_id: str) -> str:
        """What ``!Ref`` of a resource yields locally (an ARN for topics, a name otherwise)."""
        resource = self.resources[logical_id]
        if resource.get("Type") == "AWS::SNS::Topic":
            return LocalWorkflow.topic_arn(logical_id)
        if resource.get("Type") == "AWS::Serverless::Function":
            return logical_id
        if resource.get("Type") == "AWS::Serverless::StateMachine":  # !Ref is the ARN
            return LocalWorkflow.machine_arn(logical_id)
        if resource.get("Type") == "AWS::S3::Bucket":  # bucket names are lower case
            return f"ims-export-local-{logical_id.lower()}"
        return f"ims-export-local-{logical_id}"

    def condition(self, name: str) -> bool:
        return bool(self.value(self.conditions[name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {key: self.value(item) for key, item in node.items()}
        ((function, argument),) = node.items()
        if function == "Ref":
            return self.ref(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            if attribute == "Arn" and self.resources[logical_id].get("Type") == "AWS::Serverless::Function":
                return LocalWorkflow.function_arn(logical_id)
            return f"{self.physical_name(logical_id)}.{attribute}"
        if function == "Fn::Sub":
            text = argument if isinstance(argument, str) else argument[0]
            return _SUB_VARIABLE.sub(lambda match: str(self.ref(match.group(1))), text)
        if function == "Fn::Join":
            delimiter, items = argument
            values = self.value(items)
            if isinstance(values, str):  # !Ref of a CommaDelimitedList parameter
                values = values.split(",") if values else []
            return str(delimiter).join(str(item) for item in values if item is not None)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.value(when_true if self.condition(name) else when_false)
        if function == "Fn::Equals":
            left, right = (self.value(item) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.value(argument[0])
        if function == "Fn::And":
            return all(self.value(item) for item in argument)
        if function == "Fn::Or":
            return any(self.value(item) for item in argument)
        if function == "Condition":
            return self.condition(argument)
        if function.startswith("Fn::"):
            raise TemplateResolutionError(f"{function} is not supported locally")
        return {function: self.value(argument)}

    def ref(self, name: str) -> Any:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name == "AWS::NoValue":
            return None
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.physical_name(name)
        raise TemplateResolutionError(f"!Ref {name}: no such parameter or resource")


def _main_state_machine(resources: Mapping[str, Any]) -> str:
    machines = [name for name, r in resources.items() if r.get("Type") == "AWS::Serverless::StateMachine"]
    if len(machines) == 1:
        return machines[0]
    if MAIN_STATE_MACHINE in machines:
        return MAIN_STATE_MACHINE
    raise TemplateResolutionError(
        f"expected one AWS::Serverless::StateMachine or one named {MAIN_STATE_MACHINE}, found {machines}"
    )


def _state_machine_spec(resolver: _Resolver, root: Path, logical_id: str) -> StateMachineSpec:
    properties: Mapping[str, Any] = resolver.resources[logical_id]["Properties"]
    substitutions = {
        key: str(resolver.value(value))
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items()
    }
    return StateMachineSpec(root / properties["DefinitionUri"], substitutions)


def _request_templates(resolver: _Resolver) -> dict[str, str]:
    templates: dict[str, str] = {}
    for resource in resolver.resources.values():
        if resource.get("Type") != "AWS::Serverless::Api":
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        paths = ((resource.get("Properties") or {}).get("DefinitionBody") or {}).get("paths") or {}
        for path, methods in paths.items():
            for method, operation in methods.items():
                integration = operation.get("x-amazon-apigateway-integration") or {}
                template = (integration.get("requestTemplates") or {}).get("application/json")
                if template is not None:
                    templates[f"{method.upper()} {path}"] = str(resolver.value(template))
    return templates


def local_deployment(
    template_path: str | Path, overrides: Mapping[str, str] | None = None
) -> LocalDeployment:
    """Resolve ``template_path`` with parameter ``overrides`` (by parameter name)."""
    template_path = Path(template_path)
    root = template_path.parent
    template = load_template(template_path)
    resolver = _Resolver(template, overrides or {})
    main = _main_state_machine(resolver.resources)
    machines = {
        logical_id: _state_machine_spec(resolver, root, logical_id)
        for logical_id, resource in resolver.resources.items()
        if resource.get("Type") == "AWS::Serverless::StateMachine"
    }
    global_function = (template.get("Globals") or {}).get("Function") or {}
    environment = {
        key: str(resolver.value(value))
        for key, value in ((global_function.get("Environment") or {}).get("Variables") or {}).items()
    }
    handlers: dict[str, Path] = {}
    for logical_id, resource in resolver.resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        module, _, _attribute = properties["Handler"].rpartition(".")
        handlers[logical_id] = root / properties["CodeUri"] / f"{module}.py"
        for key, value in ((properties.get("Environment") or {}).get("Variables") or {}).items():
            environment[key] = str(resolver.value(value))
    return LocalDeployment(
        root=root,
        definition_path=machines[main].definition_path,
        substitutions=machines[main].substitutions,
        handlers=handlers,
        environment=environment,
        resource_names={logical_id: resolver.physical_name(logical_id) for logical_id in resolver.resources},
        parameters=dict(resolver.parameters),
        state_machines=machines,
        main_state_machine=main,
        request_templates=_request_templates(resolver),
        buckets=[
            resolver.physical_name(logical_id)
            for logical_id, resource in resolver.resources.items()
            if resource.get("Type") == "AWS::S3::Bucket"
        ],
    )
