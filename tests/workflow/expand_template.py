"""Expand template.yaml with SAM's own translator and print the CloudFormation it deploys (JSON).

Runs under the SAM CLI's interpreter (``.tools/sam/bin/python``: aws-sam-translator pins a pydantic
release of its own, so it cannot share the project's environment). Local code paths are replaced by
S3 URIs, as ``sam package`` does; no AWS call is made.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PACKAGED_PROPERTIES = ("CodeUri", "ContentUri", "DefinitionUri")
PSEUDO_PARAMETERS = {"AWS::Region": "eu-central-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


class NoManagedPolicies:
    """The template names no AWS managed policy: nothing to look up in IAM."""

    @staticmethod
    def load() -> dict[str, str]:
        return {}


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        for key in PACKAGED_PROPERTIES:
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://packaged/{name}.zip"
    return template


def main() -> None:
    template = packaged(yaml_parse(Path(sys.argv[1]).read_text(encoding="utf-8")))
    json.dump(transform(template, dict(PSEUDO_PARAMETERS), NoManagedPolicies()), sys.stdout)


if __name__ == "__main__":
    main()
