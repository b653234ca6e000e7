"""IAM ``POST /v3/auth/tokens``: password authentication with a project (or domain) scope.

201 with the token in the ``X-Subject-Token`` header and the token body (expires_at, issued_at,
methods, user, project, roles, catalog). The catalog's ``image`` endpoint is the emulator itself.
"""

from __future__ import annotations

import hashlib
from typing import Any

from localdev.emulator.clock import iso_micros
from localdev.emulator.model import Project, User
from localdev.emulator.replies import ApiError, Reply, keystone_error
from localdev.emulator.request import Request
from localdev.emulator.state import EmulatorState
from localdev.emulator.tokens import TokenRecord, pki_token

ROLES = ("te_admin", "op_fine_grained", "readonly")
WRONG_CREDENTIALS = "The username or password is wrong."


def _bad_request(message: str) -> ApiError:
    return keystone_error(400, message)


def _member(container: Any, name: str, kind: type) -> Any:
    value = container.get(name) if isinstance(container, dict) else None
    if not isinstance(value, kind):
        raise _bad_request(f"Invalid request body: '{name}' is missing or is not a {kind.__name__}.")
    return value


def _stable_id(*parts: str) -> str:
    return hashlib.md5("/".join(parts).encode(), usedforsecurity=False).hexdigest()


def _authenticate(state: EmulatorState, identity: dict[str, Any]) -> User:
    methods = _member(identity, "methods", list)
    if "password" not in methods:
        raise _bad_request("Only the 'password' authentication method is emulated.")
    user_spec = _member(_member(identity, "password", dict), "user", dict)
    password = _member(user_spec, "password", str)
    user = state.user
    domain = user_spec.get("domain") if isinstance(user_spec.get("domain"), dict) else {}
    named = user_spec.get("name") == user.name and (
        domain.get("name") == user.domain_name or domain.get("id") == user.domain_id
    )
    if not (named or user_spec.get("id") == user.id):
        raise keystone_error(401, WRONG_CREDENTIALS, "IAM.0062")
    if user.locked:
        raise keystone_error(401, "The account is locked.", "IAM.0061")
    if not user.password_matches(password):
        raise keystone_error(401, WRONG_CREDENTIALS, "IAM.0062")
    if user.disabled:
        raise keystone_error(403, "The user is disabled.", "IAM.0082")
    return user


def _scoped_project(state: EmulatorState, scope: Any, user: User) -> Project | None:
    """The project of a project scope; None for a domain scope (or no scope: a global token)."""
    if scope is None:
        return None
    if not isinstance(scope, dict):
        raise _bad_request("Invalid request body: 'scope' must be an object.")
    if "project" not in scope:
        domain = _member(scope, "domain", dict)
        if domain.get("id") != user.domain_id and domain.get("name") != user.domain_name:
            raise keystone_error(401, "The domain in the scope is not the user's domain.", "IAM.0001")
        return None
    wanted = _member(scope, "project", dict)
    project = state.project
    if wanted.get("id") == project.id or (wanted.get("id") is None and wanted.get("name") == project.name):
        return project
    raise keystone_error(400, "The project does not exist.", "IAM.1109")


def _catalog(state: EmulatorState, base_url: str, project_id: str) -> list[dict[str, Any]]:
    region = state.config.region
    image = [("image", "ims", base_url)] if state.dialect.catalog_image_entry else []
    services = [
        *image,
        ("identity", "iam", f"{base_url}/v3"),
        ("compute", "ecs", f"https://ecs.{region}.otc.t-systems.com/v2.1/{project_id}"),
        ("volumev2", "evs", f"https://evs.{region}.otc.t-systems.com/v2/{project_id}"),
        ("object-store", "obs", f"https://obs.{region}.otc.t-systems.com"),
        ("network", "vpc", f"https://vpc.{region}.otc.t-systems.com"),
    ]
    return [
        {
            "type": service_type,
            "name": name,
            "id": _stable_id("service", service_type),
            "endpoints": [
                {
                    "id": _stable_id("endpoint", service_type, region),
                    "url": url,
                    "region": region,
                    "region_id": region,
                    "interface": "public",
                }
            ],
        }
        for service_type, name, url in services
    ]


def _token_body(user: User, project: Project | None, issued_at: float, expires_at: float) -> dict[str, Any]:
    domain = {"id": user.domain_id, "name": user.domain_name}
    token: dict[str, Any] = {
        "expires_at": iso_micros(expires_at),
        "issued_at": iso_micros(issued_at),
        "methods": ["password"],
        "user": {"id": user.id, "name": user.name, "domain": domain, "password_expires_at": ""},
        "roles": [{"id": _stable_id("role", role), "name": role} for role in ROLES],
    }
    if project is None:
        token["domain"] = domain
    else:
        token["project"] = {
            "id": project.id,
            "name": project.name,
            "domain": {"id": project.domain_id, "name": project.domain_name},
        }
    return {"token": token}


def issue_token(state: EmulatorState, request: Request) -> Reply:
    body = request.json(_bad_request("The request body must be JSON."))
    auth = _member(body, "auth", dict)
    with state.lock:
        user = _authenticate(state, _member(auth, "identity", dict))
        project = _scoped_project(state, auth.get("scope"), user)
        now = state.now()
        dialect = state.dialect
        expires_at = now + (dialect.token_lifetime_seconds or state.config.token_lifetime_seconds)
        body = _token_body(user, project, dialect.token_time(now), dialect.token_time(expires_at))
        token = pki_token(body, state.config.token_size)
        state.tokens.add(token, TokenRecord(user.id, project.id if project else None, now, expires_at))
    state.counters.token_issued()
    if "nocatalog" not in request.query:
        scope_id = project.id if project else user.domain_id
        body["token"]["catalog"] = _catalog(state, request.base_url, scope_id)
    return Reply(201, body, {"X-Subject-Token": token, "Content-Type": "application/json;charset=utf8"})
