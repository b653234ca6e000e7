"""SSM parameters read and written without paying for a boto3 client until one is needed.

- ``ExtensionParameterReader`` reads through the AWS Parameters and Secrets Lambda Extension: one HTTP GET
  on localhost, no boto3 client. template.yaml attaches the extension and sets its port
  (``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``, which is how a function knows it is there) and turns its
  cache off: the token cache keeps the token in memory itself and must see a newer record at once.
- ``PowertoolsParameterReader`` reads through Powertools Parameters (the runtime's boto3): tests, local
  runs, a function without the extension, and the fallback when the extension does not answer.
- ``LazySSMProvider`` is a Powertools ``SSMProvider`` created on first use: the token writer and the
  credentials read need one only when a refresh is due, and most cold starts find a valid token.

Neither a value nor a response body ever goes into a log line or an error: they may hold the token.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

import requests

from ims_export.errors import UpstreamThrottledError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

logger = logging.getLogger(__name__)

EXTENSION_PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
EXTENSION_TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name
EXTENSION_PATH = "/systemsmanager/parameters/get"
PARAMETER_NOT_FOUND = "ParameterNotFound"
# SSM's throttling codes: the read is retried later, it is no configuration problem.
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
# The extension passes SSM's error on; these are the codes it may name in the body.
_THROTTLING_MARKERS = ("ThrottlingException", "TooManyRequestsException", "Throttling")


class ParameterStore(Protocol):
    """The part of Powertools' ``SSMProvider`` the token cache and the credentials read use."""

    def get(
        self,
        name: str,
        max_age: int | None = None,
        transform: None = None,
        decrypt: bool | None = None,
        force_fetch: bool = False,
    ) -> Any: ...

    def set(
        self,
        name: str,
        value: str,
        *,
        overwrite: bool = False,
        parameter_type: Literal["SecureString"] = "SecureString",
        tier: Literal["Standard", "Advanced"] = "Standard",
        kms_key_id: str,
    ) -> Any: ...


class ParameterReader(Protocol):
    def read(self, name: str) -> str | None:
        """The decrypted value, bypassing any cache; None when missing or unreadable (logged, without
        the value); UpstreamThrottledError when SSM throttled the read."""
        ...


class LazySSMProvider:
    """A ``ParameterStore`` whose ``SSMProvider`` (and boto3 client) is created on first use."""

    def __init__(self) -> None:
        self._provider: SSMProvider | None = None

    def _ssm(self) -> SSMProvider:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SSMProvider  # noqa: PLC0415

            self._provider = SSMProvider()
        return self._provider

    def get(
        self,
        name: str,
        max_age: int | None = None,
        transform: None = None,
        decrypt: bool | None = None,
        force_fetch: bool = False,
    ) -> Any:
        return self._ssm().get(
            name, max_age=max_age, transform=transform, decrypt=decrypt, force_fetch=force_fetch
        )

    def set(
        self,
        name: str,
        value: str,
        *,
        overwrite: bool = False,
        parameter_type: Literal["SecureString"] = "SecureString",
        tier: Literal["Standard", "Advanced"] = "Standard",
        kms_key_id: str,
    ) -> Any:
        return self._ssm().set(
            name, value, overwrite=overwrite, parameter_type=parameter_type, tier=tier, kms_key_id=kms_key_id
        )


class PowertoolsParameterReader:
    """``ParameterReader`` on a Powertools provider (its cache bypassed)."""

    def __init__(self, ssm: ParameterStore) -> None:
        self._ssm = ssm

    def read(self, name: str) -> str | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError  # noqa: PLC0415

        try:
            value = self._ssm.get(name, decrypt=True, force_fetch=True)
        except GetParameterError as error:
            code = parameter_error_code(error)
            throttled = throttled_read_error(code, f"parameter {name!r}")
            if throttled is not None:
                raise throttled from None
            if code != PARAMETER_NOT_FOUND:
                logger.warning("parameter %r unreadable (%s)", name, code)
            return None
        if not isinstance(value, str):
            logger.warning("parameter %r is not text", name)
            return None
        return value


class ExtensionParameterReader:
    """``ParameterReader`` on the Parameters and Secrets Lambda Extension at ``localhost:port``.

    When the extension does not answer at all (not started, crashed), ``fallback`` reads instead.
    """

    def __init__(
        self,
        port: int,
        timeouts: tuple[float, float],
        fallback: ParameterReader,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._url = f"http://localhost:{port}{EXTENSION_PATH}"
        self._timeouts = timeouts
        self._fallback = fallback
        self._environ = environ
        self._session = requests.Session()
        self._session.trust_env = False  # localhost: never through a proxy from the environment

    def read(self, name: str) -> str | None:
        # The function's session token proves the request comes from inside its execution environment.
        session_token = self._environ.get("AWS_SESSION_TOKEN", "")
        if not session_token:
            return self._fallback.read(name)
        try:
            response = self._session.get(
                self._url,
                params={"name": name, "withDecryption": "true"},
                headers={EXTENSION_TOKEN_HEADER: session_token},
                timeout=self._timeouts,
            )
        except requests.RequestException as error:
            logger.warning(
                "parameters extension unreachable (%s); reading %r through SSM", type(error).__name__, name
            )
            return self._fallback.read(name)
        if response.status_code != 200:
            return self._refused(name, response)
        try:
            value = _parameter_value(response.json())
        except ValueError:  # requests' JSONDecodeError is one
            value = None
        if value is None:
            logger.warning("parameter %r: the extension's answer holds no value", name)
        return value

    @staticmethod
    def _refused(name: str, response: requests.Response) -> None:
        body = response.text
        if PARAMETER_NOT_FOUND in body:
            return None
        throttled = next((marker for marker in _THROTTLING_MARKERS if marker in body), None)
        if throttled is not None or response.status_code == 429:
            error = throttled_read_error(throttled or "TooManyRequestsException", f"parameter {name!r}")
            if error is not None:
                raise error
        # The body may echo the request or the value: only the status is logged.
        logger.warning("parameter %r unreadable (extension answered HTTP %s)", name, response.status_code)
        return None


def _parameter_value(document: Any) -> str | None:
    """``Parameter.Value`` of a GetParameter answer, if it is text."""
    parameter = document.get("Parameter") if isinstance(document, Mapping) else None
    value = parameter.get("Value") if isinstance(parameter, Mapping) else None
    return value if isinstance(value, str) else None


def token_reader_from_env(
    ssm: ParameterStore, timeouts: tuple[float, float], environ: Mapping[str, str] = os.environ
) -> ParameterReader:
    """The extension's reader where the extension is configured (its port is set), else Powertools."""
    powertools = PowertoolsParameterReader(ssm)
    port = environ.get(EXTENSION_PORT_VARIABLE, "")
    if not port.isdigit() or not 0 < int(port) < 65536:
        return powertools
    return ExtensionParameterReader(int(port), timeouts, fallback=powertools, environ=environ)


def parameter_error_code(error: BaseException) -> str | None:
    """The AWS error code (``ParameterNotFound``, ``AccessDeniedException``...) behind a Powertools error.

    Powertools wraps the botocore ClientError without ``from``; it is still the implicit context.
    """
    cause = error.__cause__ or error.__context__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str):
            return code
    return None


def throttled_read_error(code: str | None, what: str) -> UpstreamThrottledError | None:
    """The transient error for a throttled SSM read of ``what``; None if ``code`` is no throttling."""
    if code not in THROTTLING_CODES:
        return None
    return UpstreamThrottledError(f"{what}: SSM throttled the read ({code}); retrying later", code=code)
