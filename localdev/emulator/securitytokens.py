"""IAM ``POST /v3.0/OS-CREDENTIAL/securitytokens``: temporary AK/SK and security token from a token.

Body ``{"auth": {"identity": {"methods": ["token"], "token": {"duration_seconds": 900},
"policy"?: {...}}}}`` with ``X-Auth-Token``; 201 ``{"credential": {"access", "secret", "expires_at",
"securitytoken"}}`` (OTC ``obtaining_a_temporary_ak_sk``, Huawei iam_04_0002). Durations outside
15 min..24 h are refused (400). A policy is kept with the credentials and enforced by the emulated
OBS. ``ObsState.credentials_denied`` and ``policy_refused`` emulate a user without the permission
(403) and a cloud that does not accept a policy (400).
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from localdev.emulator.clock import iso_micros
from localdev.emulator.obs_state import PolicyStatement, TemporaryCredential
from localdev.emulator.replies import ApiError, Reply, keystone_error, unauthorized
from localdev.emulator.request import Request
from localdev.emulator.state import EmulatorState

PATH = "/v3.0/OS-CREDENTIAL/securitytokens"
MIN_DURATION_SECONDS, MAX_DURATION_SECONDS, DEFAULT_DURATION_SECONDS = 900, 24 * 3600, 900
ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits
SECURITY_TOKEN_BYTES = 480  # real security tokens are long base64 blobs ("gAAAAAB...")


def _bad_request(message: str) -> ApiError:
    return keystone_error(400, message)


def _statements(policy: Any) -> tuple[PolicyStatement, ...]:
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list):
        raise _bad_request("Invalid policy: 'Statement' must be a list.")
    statements = []
    for raw in policy["Statement"]:
        effect = raw.get("Effect") if isinstance(raw, dict) else None
        actions = raw.get("Action") if isinstance(raw, dict) else None
        resources = raw.get("Resource", []) if isinstance(raw, dict) else None
        if (
            effect not in ("Allow", "Deny")
            or not isinstance(actions, list)
            or not isinstance(resources, list)
        ):
            raise _bad_request("Invalid policy statement: Effect, Action and Resource are required.")
        statements.append(PolicyStatement(effect, tuple(map(str, actions)), tuple(map(str, resources))))
    return tuple(statements)


def _duration(identity: dict[str, Any]) -> int:
    token_part = identity.get("token") or {}
    duration = (
        token_part.get("duration_seconds", DEFAULT_DURATION_SECONDS) if isinstance(token_part, dict) else None
    )
    if not isinstance(duration, int) or isinstance(duration, bool):
        raise _bad_request("Invalid request body: 'duration_seconds' must be an integer.")
    if not MIN_DURATION_SECONDS <= duration <= MAX_DURATION_SECONDS:
        raise _bad_request("duration_seconds must be between 900 and 86400.")
    return duration


def issue_temporary_credentials(state: EmulatorState, request: Request) -> Reply:
    token = request.header("X-Auth-Token")
    record = state.tokens.find(token) if token else None
    if record is None:
        raise unauthorized("The request you have made requires authentication.")
    problem = record.problem(state.now())
    if problem:
        raise unauthorized(problem)
    body = request.json(_bad_request("The request body must be JSON."))
    identity = body.get("auth", {}).get("identity") if isinstance(body, dict) else None
    if not isinstance(identity, dict) or identity.get("methods") != ["token"]:
        raise _bad_request("Invalid request body: methods must be ['token'].")
    duration = _duration(identity)
    obs = state.obs
    if obs.credentials_denied:
        raise keystone_error(403, "You do not have permission to obtain temporary credentials.")
    statements = None
    if "policy" in identity:
        if obs.policy_refused:
            raise _bad_request("Invalid request body: unknown field 'policy'.")
        statements = _statements(identity["policy"])
    now = state.now()
    credential = TemporaryCredential(
        access_key_id="".join(secrets.choice(ACCESS_KEY_ALPHABET) for _ in range(20)),
        secret=secrets.token_urlsafe(30),
        security_token="gAAAAAB" + secrets.token_urlsafe(SECURITY_TOKEN_BYTES),
        expires_at=now + duration,
        statements=statements,
    )
    obs.add_credential(credential)
    answer = {
        "credential": {
            "access": credential.access_key_id,
            "secret": credential.secret,
            "expires_at": iso_micros(credential.expires_at),
            "securitytoken": credential.security_token,
        }
    }
    return Reply(201, answer, {"Content-Type": "application/json;charset=utf8"})
