"""The cloud a local run talks to, from the configuration OpenStack users already have.

``OS_CLOUD`` names an entry of ``clouds.yaml`` (and of ``secure.yaml`` beside it, where OpenStack
tools keep the password), searched where OpenStack's own tools search: ``OS_CLIENT_CONFIG_FILE``, else
``./clouds.yaml``, ``~/.config/openstack/clouds.yaml``, ``/etc/openstack/clouds.yaml``. Single ``OS_*``
variables (``OS_AUTH_URL``, ``OS_USERNAME``, ``OS_PASSWORD``, ``OS_USER_DOMAIN_NAME``,
``OS_PROJECT_NAME``, ``OS_PROJECT_ID``, ``OS_REGION_NAME``) override the entry's values, or are the
whole configuration without ``OS_CLOUD``.

PyYAML reads the files (already installed with moto and cfn-lint): openstacksdk's loader would add
dozens of packages for the few keys a run needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SEARCH_PATH = (
    Path("clouds.yaml"),
    Path("~/.config/openstack/clouds.yaml"),
    Path("/etc/openstack/clouds.yaml"),
)
# clouds.yaml auth key -> the OS_* variable that overrides it.
AUTH_VARIABLES = {
    "auth_url": "OS_AUTH_URL",
    "username": "OS_USERNAME",
    "password": "OS_PASSWORD",
    "user_domain_name": "OS_USER_DOMAIN_NAME",
    "project_name": "OS_PROJECT_NAME",
    "project_id": "OS_PROJECT_ID",
}


class CloudConfigError(Exception):
    """The cloud configuration is incomplete or names a cloud that is not there."""


@dataclass(frozen=True)
class CloudSettings:
    """What a real-cloud run needs: where IAM is, who logs in, which project and region."""

    auth_url: str  # empty: derived from the cloud and region_name
    username: str
    password: str
    domain_name: str
    project_name: str = ""
    project_id: str = ""
    region_name: str = ""
    source: str = "OS_* variables"


def wants_real_cloud(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("OS_AUTH_URL") or environ.get("OS_CLOUD"))


def config_files(environ: Mapping[str, str]) -> list[Path]:
    """Where clouds.yaml is looked for, in order."""
    if environ.get("OS_CLIENT_CONFIG_FILE"):
        return [Path(environ["OS_CLIENT_CONFIG_FILE"]).expanduser()]
    return [path.expanduser() for path in SEARCH_PATH]


def _read_yaml(path: Path) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise CloudConfigError(f"cannot read {path}: {error}") from None
    if not isinstance(document, dict):
        raise CloudConfigError(f"{path} holds no 'clouds:' mapping")
    return document


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def named_cloud(name: str, files: Sequence[Path]) -> tuple[dict[str, Any], Path]:
    """The entry ``name`` of the first clouds.yaml that exists, merged with its secure.yaml."""
    existing = [path for path in files if path.is_file()]
    if not existing:
        searched = ", ".join(str(path) for path in files)
        raise CloudConfigError(f"OS_CLOUD={name}, but there is no clouds.yaml (searched {searched})")
    path = existing[0]
    clouds = _read_yaml(path).get("clouds") or {}
    if name not in clouds:
        known = ", ".join(sorted(clouds)) or "none"
        raise CloudConfigError(f"OS_CLOUD={name}: {path} has no cloud {name!r} (clouds there: {known})")
    entry: dict[str, Any] = dict(clouds[name] or {})
    secure = path.with_name("secure.yaml")
    if secure.is_file():
        entry = _merge(entry, (_read_yaml(secure).get("clouds") or {}).get(name) or {})
    return entry, path


def _listed(names: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]


def cloud_settings(environ: Mapping[str, str]) -> CloudSettings:
    """The real cloud named by ``OS_CLOUD`` and/or the ``OS_*`` variables (which win)."""
    auth: dict[str, Any] = {}
    region = ""
    source = "OS_* variables"
    if environ.get("OS_CLOUD"):
        entry, path = named_cloud(environ["OS_CLOUD"], config_files(environ))
        auth = dict(entry.get("auth") or {})
        region = str(entry.get("region_name") or "")
        source = f"cloud {environ['OS_CLOUD']!r} of {path}"
    for key, variable in AUTH_VARIABLES.items():
        if environ.get(variable):
            auth[key] = environ[variable]
    domain = auth.get("user_domain_name") or auth.get("domain_name") or environ.get("OS_DOMAIN_NAME")
    region = environ.get("OS_REGION_NAME") or region
    missing: list[str] = []
    if not auth.get("auth_url") and not region:
        missing.append("OS_AUTH_URL (or OS_REGION_NAME, to derive it)")
    for key in ("username", "password"):
        if not auth.get(key):
            missing.append(AUTH_VARIABLES[key])
    if not domain:
        missing.append(AUTH_VARIABLES["user_domain_name"])
    if missing:
        raise CloudConfigError(
            f"the real cloud is used ({source}), but {_listed(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set"
            " (set the variable, or the key in clouds.yaml under auth:)"
        )
    return CloudSettings(
        auth_url=str(auth.get("auth_url") or "").rstrip("/"),
        username=str(auth["username"]),
        password=str(auth["password"]),
        domain_name=str(domain),
        project_name=str(auth.get("project_name") or ""),
        project_id=str(auth.get("project_id") or ""),
        region_name=region,
        source=source,
    )
