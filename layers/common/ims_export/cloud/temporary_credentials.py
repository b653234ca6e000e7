"""Short-lived OBS credentials from the IAM token (``POST /v3.0/OS-CREDENTIAL/securitytokens``).

The token method is used: ``{"auth": {"identity": {"methods": ["token"], "token": {"duration_seconds":
900}}}}`` with ``X-Auth-Token``. The answer's ``credential`` holds ``access``, ``secret``,
``securitytoken`` and ``expires_at`` (OTC ``obtaining_a_temporary_ak_sk``, Huawei iam_04_0002).

An optional policy narrows the credentials to what the caller needs (Huawei documents
``auth.identity.policy``, and it narrows OBS permissions only; OTC does not document the field, so
the caller can leave it out). ``bucket_access_policy`` builds the shape this module sends:

    {"Version": "1.1",
     "Statement": [{"Effect": "Allow",
                    "Action": ["obs:object:GetObject", "obs:bucket:ListBucket"(, "obs:object:DeleteObject")],
                    "Resource": ["obs:*:*:object:<bucket>/*", "obs:*:*:bucket:<bucket>"]}]}

The credentials live in memory only: the secret key and the security token are SecretStr, the access
key is left out of the repr, and error messages mask all three (and the IAM token).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ims_export.cloud.http_errors import transient_error
from ims_export.cloud.ims_errors import TRANSPORT_ERRORS, parse_error_body
from ims_export.cloud.redaction import redact_message
from ims_export.domain.tokens import IssuedToken, TokenSource
from ims_export.errors import (
    ConfigurationError,
    ImsExportError,
    TemporaryCredentialsDeniedError,
    TokenRejectedError,
    UnexpectedResponseError,
    UpstreamTimeoutError,
)
from ims_export.parsing import describe_validation_error

logger = logging.getLogger(__name__)

SECURITY_TOKENS_PATH = "/v3.0/OS-CREDENTIAL/securitytokens"
DEFAULT_DURATION_SECONDS = 900  # IAM's minimum and OTC's default: 15 minutes
MAX_DURATION_SECONDS = 24 * 3600
POLICY_VERSION = "1.1"
# Reading objects and listing; the bucket's metadata (its existence, location, storage class) for the
# pre-flight of an export's target.
READ_ACTIONS = (
    "obs:object:GetObject",
    "obs:bucket:ListBucket",
    "obs:bucket:HeadBucket",
    "obs:bucket:GetBucketLocation",
    "obs:bucket:GetBucketStoragePolicy",
)
DELETE_ACTION = "obs:object:DeleteObject"
# The configured IAM endpoint ends in /v3; this API lives under /v3.0 of the same host.
_TRAILING_VERSION = re.compile(r"/v\d+(\.\d+)?$")


class TemporaryCredentials(BaseModel):
    """A temporary AK/SK pair and its security token; never stored, never logged."""

    model_config = ConfigDict(frozen=True)

    access_key_id: str = Field(min_length=1, repr=False, exclude=True)
    secret_access_key: SecretStr
    security_token: SecretStr
    expires_at: datetime

    def seconds_left(self, now: datetime | None = None) -> float:
        return (self.expires_at - (now or datetime.now(UTC))).total_seconds()

    def secret_values(self) -> tuple[str, str, str]:
        """The values to mask wherever text may echo them."""
        return (
            self.access_key_id,
            self.secret_access_key.get_secret_value(),
            self.security_token.get_secret_value(),
        )


class _Credential(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access: str = Field(min_length=1)
    secret: str = Field(min_length=1)
    securitytoken: str = Field(min_length=1)
    expires_at: datetime


class _CredentialAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    credential: _Credential


def bucket_access_policy(bucket: str, *, allow_delete: bool = False) -> dict[str, Any]:
    """A policy that allows reading and listing ``bucket`` only (and deleting in it, if asked)."""
    actions = [*READ_ACTIONS, DELETE_ACTION] if allow_delete else list(READ_ACTIONS)
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": actions,
                "Resource": [f"obs:*:*:object:{bucket}/*", f"obs:*:*:bucket:{bucket}"],
            }
        ],
    }


def security_tokens_url(iam_endpoint: str) -> str:
    """The securitytokens URL on the host of the configured IAM endpoint (which ends in /v3)."""
    parts = urlsplit(iam_endpoint.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigurationError("IAM endpoint must be an http(s) URL")
    root = _TRAILING_VERSION.sub("", f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/"))
    return root + SECURITY_TOKENS_PATH


class TemporaryCredentialsClient:
    """Issues temporary credentials with the current IAM token; on a 401 once more with a fresh one."""

    def __init__(
        self,
        tokens: TokenSource,
        iam_endpoint: str,
        session: requests.Session,
        timeout: tuple[float, float],
    ) -> None:
        self._tokens = tokens
        self._url = security_tokens_url(iam_endpoint)
        self._host = urlsplit(self._url).netloc
        self._session = session
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"TemporaryCredentialsClient(url={self._url!r})"

    def issue(
        self,
        *,
        duration_seconds: int = DEFAULT_DURATION_SECONDS,
        policy: Mapping[str, Any] | None = None,
    ) -> TemporaryCredentials:
        """New temporary credentials, valid ``duration_seconds``, narrowed by ``policy`` if given."""
        if not DEFAULT_DURATION_SECONDS <= duration_seconds <= MAX_DURATION_SECONDS:
            raise ConfigurationError(
                f"temporary credentials last {DEFAULT_DURATION_SECONDS} to {MAX_DURATION_SECONDS} seconds"
            )
        identity: dict[str, Any] = {"methods": ["token"], "token": {"duration_seconds": duration_seconds}}
        if policy is not None:
            identity["policy"] = dict(policy)
        body = json.dumps({"auth": {"identity": identity}}).encode()
        token = self._tokens.current()
        response = self._post(body, token)
        if response.status_code == 401:
            # IAM may revoke a token before it expires: one more try with a fresh one.
            self._tokens.invalidate(token)
            token = self._tokens.current()
            response = self._post(body, token)
            if response.status_code == 401:
                raise TokenRejectedError(
                    "temporary credentials: IAM refused the token even after a refresh (HTTP 401)",
                    status=401,
                )
        secrets = (token.value.get_secret_value(),)
        if response.status_code in (200, 201):
            return self._parse(response, secrets)
        raise self._error_for(response, secrets, narrowed=policy is not None)

    def issue_for_bucket(self, bucket: str, *, allow_delete: bool = False) -> TemporaryCredentials:
        """Credentials narrowed to ``bucket``; un-narrowed where the cloud refuses the policy (OTC does
        not document it): they then carry the IAM user's own OBS permissions, for 15 minutes, in memory."""
        try:
            return self.issue(policy=bucket_access_policy(bucket, allow_delete=allow_delete))
        except TemporaryCredentialsDeniedError as error:
            if error.status != 400:
                raise
            logger.info("IAM refused the bucket policy of temporary credentials; asking without it")
            return self.issue()

    def _post(self, body: bytes, token: IssuedToken) -> requests.Response:
        try:
            response = self._session.post(
                self._url,
                data=body,
                headers={
                    "Content-Type": "application/json;charset=utf8",
                    "X-Auth-Token": token.value.get_secret_value(),
                },
                timeout=self._timeout,
                allow_redirects=False,  # a redirect would carry the token to another host
            )
        except TRANSPORT_ERRORS as error:
            raise UpstreamTimeoutError(
                f"temporary credentials: no answer from IAM at {self._host} ({type(error).__name__})"
            ) from None
        logger.debug("IAM POST %s -> %s", SECURITY_TOKENS_PATH, response.status_code)
        return response

    @staticmethod
    def _parse(response: requests.Response, secrets: tuple[str, ...]) -> TemporaryCredentials:
        try:
            credential = _CredentialAnswer.model_validate_json(response.content).credential
        except ValidationError as error:
            detail = redact_message(describe_validation_error(error), secrets)
            raise UnexpectedResponseError(
                f"temporary credentials: IAM's answer is not understood: {detail}",
                status=response.status_code,
            ) from None
        expires_at = credential.expires_at
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return TemporaryCredentials(
            access_key_id=credential.access,
            secret_access_key=SecretStr(credential.secret),
            security_token=SecretStr(credential.securitytoken),
            expires_at=expires_at,
        )

    @staticmethod
    def _error_for(
        response: requests.Response, secrets: tuple[str, ...], *, narrowed: bool
    ) -> ImsExportError:
        status = response.status_code
        code, message = parse_error_body(response)
        detail = redact_message(message or response.reason or "no message", secrets)
        text = f"temporary credentials: IAM refused ({status}): {detail}"
        transient = transient_error(response, text, code)
        if transient is not None:
            return transient
        if status == 403:
            return TemporaryCredentialsDeniedError(
                f"{text}; the IAM user may not obtain temporary credentials", code=code, status=status
            )
        if status == 400 and narrowed:
            return TemporaryCredentialsDeniedError(
                f"{text}; if this cloud does not accept a policy in the request, turn the narrowing off",
                code=code,
                status=status,
            )
        return UnexpectedResponseError(text, code=code, status=status)
