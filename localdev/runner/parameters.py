"""The deployment a local run resolves: template parameters and settings from the user's variables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localdev.deployment import LocalDeployment, TemplateResolutionError, local_deployment
from localdev.runner.errors import RunError
from localdev.runner.targets import CloudTarget

# Environment variables a user sets -> template parameters they override. Any tunable setting
# (POLL_MIN_SECONDS, EXPORT_OBJECT_PATTERN, ...) goes into the Settings parameter instead, as deployed.
PARAMETER_VARIABLES = {
    "EXPORT_BUCKET": "ExportBucket",
    "EXPORT_FILE_FORMAT": "ExportFileFormat",
    "CLOUD": "Cloud",
    "CLOUD_REGION": "CloudRegion",
    "SMN_ALLOWED_TOPIC_URNS": "SmnAllowedTopicUrns",
}
SETTINGS_PARAMETER = "Settings"


def user_parameters(environ: Mapping[str, str]) -> dict[str, str]:
    return {parameter: environ[name] for name, parameter in PARAMETER_VARIABLES.items() if environ.get(name)}


def user_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The tunable settings a user set as variables, over those of an ``IMS_EXPORT_SETTINGS`` object."""
    from ims_export.settings import SETTINGS_JSON_ENV, TUNABLE

    raw = environ.get(SETTINGS_JSON_ENV, "").strip()
    try:
        document = json.loads(raw) if raw else {}
    except ValueError:
        raise RunError(
            f'{SETTINGS_JSON_ENV} is not JSON: write an object such as {{"POLL_MAX_SECONDS": 900}}'
        ) from None
    if not isinstance(document, dict):
        raise RunError(f'{SETTINGS_JSON_ENV} must be a JSON object such as {{"POLL_MAX_SECONDS": 900}}')
    for name in sorted(set(document) & set(PARAMETER_VARIABLES)):
        parameter = PARAMETER_VARIABLES[name]
        raise RunError(
            f"{SETTINGS_JSON_ENV} cannot set {name}, which is the template parameter {parameter}: "
            f"set it as the make variable {name}=<value> (make run) or the {parameter} parameter (sam deploy)"
        )
    return {**document, **{name: environ[name] for name in sorted(TUNABLE) if environ.get(name)}}


def with_settings(parameters: Mapping[str, str], settings: Mapping[str, Any]) -> dict[str, str]:
    """``parameters`` with ``settings`` merged into the Settings parameter's JSON object (an empty
    value unsets a setting: it then takes its default or is derived)."""
    given = json.loads(parameters.get(SETTINGS_PARAMETER) or "{}")
    merged = {name: value for name, value in {**given, **settings}.items() if value not in (None, "")}
    return {**parameters, SETTINGS_PARAMETER: json.dumps(merged, sort_keys=True)}


def names_a_bucket(execution_input: Any) -> bool:
    """Whether the input carries its own ``bucket_url`` (directly or in an EventBridge detail)."""
    if not isinstance(execution_input, Mapping):
        return False
    detail = execution_input.get("detail")
    in_detail = isinstance(detail, Mapping) and bool(detail.get("bucket_url"))
    return bool(execution_input.get("bucket_url")) or in_detail


def check_bucket_known(execution_input: Any, deployment: LocalDeployment) -> None:
    if "resume" in (execution_input if isinstance(execution_input, Mapping) else {}):
        return
    if not names_a_bucket(execution_input) and not deployment.parameters.get("ExportBucket"):
        raise RunError(
            "no bucket to export to: the event has no bucket_url and ExportBucket is empty; "
            "set EXPORT_BUCKET=<bucket> (make run) or the ExportBucket parameter (sam deploy)"
        )


def deployment_for(
    template: Path,
    target: CloudTarget,
    overrides: Mapping[str, str] | None,
    settings: Mapping[str, Any] | None,
) -> LocalDeployment:
    """The template resolved for ``target``; RunError for parameters or settings the deployment (or
    its functions, at their first call) would refuse."""
    from ims_export.errors import ConfigurationError
    from ims_export.settings import SETTINGS_JSON_ENV, Settings

    # No Lambda layer runs here, so no Parameters and Secrets extension: the token is read through SSM.
    local = {"ParametersExtensionLayerArn": ""}
    parameters = with_settings(
        {**local, **target.parameters, **(overrides or {})}, {**target.settings, **(settings or {})}
    )
    try:
        deployment = local_deployment(template, parameters)
        Settings.from_env({**os.environ, **deployment.environment})
    except TemplateResolutionError as error:
        raise RunError(str(error)) from None
    except ConfigurationError as error:
        if str(error).startswith(SETTINGS_JSON_ENV):  # its own message says what it takes
            raise RunError(str(error)) from None
        raise RunError(
            f"{error}: give the setting it names a valid value, as a make variable (NAME=value) or a key "
            f"of {SETTINGS_JSON_ENV} here, a key of the Settings parameter when deployed"
        ) from None
    return deployment
