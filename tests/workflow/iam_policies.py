"""template.yaml as CloudFormation deploys it (expanded by SAM's translator), and its IAM statements."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
EXPANDER = Path(__file__).with_name("expand_template.py")


@functools.cache
def expanded_template() -> dict[str, Any]:
    """The translated template (``make unit`` sets up SAM's environment before the tests run)."""
    if not SAM_PYTHON.exists():
        raise RuntimeError(f"{SAM_PYTHON} is missing: run `make unit` (it installs SAM CLI first)")
    completed = subprocess.run(  # noqa: S603 - our own interpreter and script, fixed arguments
        [str(SAM_PYTHON), str(EXPANDER), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"},
        timeout=600,
    )
    expanded: dict[str, Any] = json.loads(completed.stdout)
    return expanded


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement under ``node``, in both branches of an Fn::If."""
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(role: str) -> list[dict[str, Any]]:
    """The role's inline statements and those of the template's managed policies it is given."""
    resources = expanded_template()["Resources"]
    resource = resources[role]
    assert resource["Type"] == "AWS::IAM::Role"
    managed = [
        resources[arn["Ref"]]["Properties"]["PolicyDocument"]
        for arn in resource["Properties"].get("ManagedPolicyArns", [])
        if isinstance(arn, dict) and "Ref" in arn
    ]
    return list(statements(resource["Properties"].get("Policies", []))) + list(statements(managed))


def allowed_actions(role: str, resource_marker: str) -> set[str]:
    """The actions ``role`` may take on resources whose (unresolved) ARN contains ``resource_marker``."""
    actions: set[str] = set()
    for statement in role_statements(role):
        if statement["Effect"] == "Allow" and resource_marker in json.dumps(statement.get("Resource")):
            actions |= set(as_list(statement["Action"]))
    return actions
