"""IAM client: a project-scoped token by password authentication (``POST /v3/auth/tokens``).

The token comes back in the ``X-Subject-Token`` header of a 201 answer; the body gives its expiry and
issue time (on IAM's clock), the project id and the service catalog, where the IMS endpoint is the
entry of type ``image`` (a catalog without one leaves the IMS client to derive it from cloud and region).
A 201 without the header is transient; a connection that cannot be made is retried a few times
(``http.with_connect_retries``) and then names the host.
Failures become the typed errors of ``ims_export.errors``. Their messages may carry IAM's code and
message, never the password, the token or the request body.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ims_export.cloud.http import DEFAULT_CONNECT_RETRIES, host_of, with_connect_retries
from ims_export.cloud.http_errors import transient_error_class
from ims_export.cloud.redaction import redact, redact_echo
from ims_export.domain.credentials import Credentials
from ims_export.domain.jobs import parse_job_time
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import (
    AccountLockedError,
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    ImsExportError,
    UnexpectedResponseError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ims_export.parsing import describe_validation_error

SUBJECT_TOKEN_HEADER = "X-Subject-Token"  # noqa: S105 (a header name, not a secret)
IMAGE_SERVICE_TYPE = "image"
ACCOUNT_LOCKED_CODE = "IAM.0061"
THROTTLED_CODE = "IAM.0012"
PROJECT_NOT_FOUND_CODE = "IAM.1109"
MAX_MESSAGE_LENGTH = 200
# Catalog URLs sometimes end in an API version; the IMS client adds its own (/v1, /v2).
_TRAILING_VERSION = re.compile(r"/v\d+(\.\d+)?$")


# The answer models are built on first use (defer_build): only a token refresh reads an IAM answer, and
# a cold start that finds a valid token in the cache never does.
class _Endpoint(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    url: str
    interface: str | None = None


class _CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    type: str
    endpoints: list[_Endpoint] = []


class _Project(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    id: str


class _TokenBody(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    expires_at: datetime
    issued_at: Any = None  # informative only: never a reason to refuse the token
    project: _Project
    catalog: list[Any] = []  # checked entry by entry in image_endpoint


class _TokenResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    token: _TokenBody


def image_endpoint(catalog: list[Any]) -> str | None:
    """The IMS base URL from the catalog (the public interface if there are several), or None."""
    endpoints: list[_Endpoint] = []
    for raw_entry in catalog:
        try:
            entry = _CatalogEntry.model_validate(raw_entry)
        except ValidationError:
            continue  # a malformed entry of another service must not cost us the token
        if entry.type == IMAGE_SERVICE_TYPE:
            endpoints.extend(entry.endpoints)
    if not endpoints:
        return None
    chosen = next((endpoint for endpoint in endpoints if endpoint.interface == "public"), endpoints[0])
    return _TRAILING_VERSION.sub("", chosen.url.rstrip("/")).rstrip("/") or None


def _error_details(response: requests.Response, secrets: tuple[str, ...]) -> tuple[str | None, str]:
    """IAM's error code and message, from ``{"error": {...}}`` or ``{"error_code", "error_msg"}`` bodies."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code: Any = None
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message") or error.get("title")
        # Some answers carry both shapes: the nested "code" is then the HTTP status, "error_code" IAM's.
        code = body.get("error_code") or code
        message = message or body.get("error_msg")
    text = redact_echo(str(message or response.reason or "no message"), secrets)[:MAX_MESSAGE_LENGTH]
    return (redact(str(code), secrets)[:MAX_MESSAGE_LENGTH] if code is not None else None), text


class IamClient:
    """Issues project-scoped tokens. One instance per process; the session keeps connections open."""

    def __init__(
        self,
        endpoint: str,
        session: requests.Session,
        timeout: tuple[float, float],
        *,
        connect_retries: int = DEFAULT_CONNECT_RETRIES,
    ) -> None:
        self._tokens_url = f"{endpoint.rstrip('/')}/auth/tokens"
        self._session = session
        self._timeout = timeout
        self._connect_retries = connect_retries

    def issue_token(
        self, credentials: Credentials, *, project_name: str | None = None, project_id: str | None = None
    ) -> IssuedToken:
        """A new token scoped to a project: an id wins over a name, and arguments win over the credentials."""
        password = credentials.password.get_secret_value()
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": credentials.user_name,
                            "password": password,
                            "domain": {"name": credentials.domain_name},
                        }
                    },
                },
                "scope": {"project": self._project_scope(credentials, project_name, project_id)},
            }
        }

        def send() -> requests.Response:
            return self._session.post(
                self._tokens_url,
                data=json.dumps(body),
                headers={"Content-Type": "application/json;charset=utf8"},
                timeout=self._timeout,
            )

        try:
            response = with_connect_retries(
                send, service="IAM", url=self._tokens_url, retries=self._connect_retries
            )
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema):
            raise ConfigurationError(f"IAM endpoint URL {self._tokens_url!r} is invalid") from None
        except requests.RequestException as error:
            # Timeouts or dropped connections: worth retrying later.
            host = host_of(self._tokens_url)
            raise UpstreamTimeoutError(f"IAM at {host} did not answer: {type(error).__name__}") from None
        if response.status_code in (200, 201):
            return self._parse_token(response)
        raise self._error_for(response, (password,))

    @staticmethod
    def _project_scope(
        credentials: Credentials, project_name: str | None, project_id: str | None
    ) -> dict[str, str]:
        chosen_id = project_id or credentials.project_id
        if chosen_id:
            return {"id": chosen_id}
        chosen_name = project_name or credentials.project_name
        if chosen_name:
            return {"name": chosen_name}
        raise ConfigurationError("no project to scope the IAM token to (set PROJECT_NAME or PROJECT_ID)")

    @staticmethod
    def _parse_token(response: requests.Response) -> IssuedToken:
        token_value = response.headers.get(SUBJECT_TOKEN_HEADER, "").strip()
        if not token_value:
            # Seen from gateways in front of IAM; a new request normally gets the header.
            raise UpstreamUnavailableError(
                f"IAM answered {response.status_code} without an {SUBJECT_TOKEN_HEADER} header",
                status=response.status_code,
            )
        secrets = (token_value,)
        try:
            parsed = _TokenResponse.model_validate_json(response.content)
        except ValidationError as error:
            detail = redact(describe_validation_error(error), secrets)
            raise UnexpectedResponseError(
                f"IAM token body is not understood: {detail}", status=response.status_code
            ) from None
        expires_at = parsed.token.expires_at
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return IssuedToken(
            value=SecretStr(token_value),
            expires_at=expires_at,
            project_id=parsed.token.project.id,
            ims_endpoint=image_endpoint(parsed.token.catalog),
            issued_at=parse_job_time(parsed.token.issued_at),
        )

    @staticmethod
    def _error_for(response: requests.Response, secrets: tuple[str, ...]) -> ImsExportError:
        status = response.status_code
        code, message = _error_details(response, secrets)
        text = f"IAM refused the token request ({status}): {message}"
        transient = transient_error_class(status, throttled=code == THROTTLED_CODE)
        if transient is not None:
            return transient(text, code=code, status=status)
        if status == 401:
            error_class = AccountLockedError if code == ACCOUNT_LOCKED_CODE else AuthenticationError
            return error_class(text, code=code, status=status)
        if status == 403:
            return AuthorizationError(text, code=code, status=status)
        if code == PROJECT_NOT_FOUND_CODE:
            return ConfigurationError(text, code=code, status=status)
        return UnexpectedResponseError(text, code=code, status=status)
