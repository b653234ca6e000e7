"""How every IMS call travels: the endpoint, the token, one retry with a fresh token on 401, typed errors.

Every call carries ``X-Auth-Token``. On a 401 the token is invalidated and the call is sent once more
with a fresh one (IMS may revoke a token before it expires); a second 401 is TokenRejectedError. A
non-2xx answer becomes a typed error (``ims_errors``); a connection that cannot be made is retried a few
times (``http``). No redirects are followed: they would carry the token to another host. The token never
appears in logs, errors or reprs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from ims_export.cloud.http import DEFAULT_CONNECT_RETRIES, host_of, with_connect_retries
from ims_export.cloud.ims_api import JSON_CONTENT_TYPE, normalize_endpoint
from ims_export.cloud.ims_errors import TRANSPORT_ERRORS, error_from_response, error_from_transport
from ims_export.domain.tokens import IssuedToken, TokenSource
from ims_export.errors import ConfigurationError, TokenRejectedError

logger = logging.getLogger(__name__)

PathFor = Callable[[IssuedToken], str]


class ImsTransport:
    """Sends IMS requests over one ``requests.Session`` to the chosen endpoint: ``endpoint`` (configured),
    else the token catalog's, else ``derived_endpoint`` (from cloud and region)."""

    def __init__(
        self,
        tokens: TokenSource,
        session: requests.Session,
        timeout: tuple[float, float],
        *,
        endpoint: str | None = None,
        derived_endpoint: str | None = None,
        connect_retries: int = DEFAULT_CONNECT_RETRIES,
    ) -> None:
        self._tokens = tokens
        self._session = session
        self._timeout = timeout
        self.endpoint = endpoint
        self._derived_endpoint = derived_endpoint
        self._used_endpoint: str | None = None
        self._derived_endpoint_logged = False
        self._connect_retries = connect_retries
        self._last_token: IssuedToken | None = None  # to redact it from quoted answers

    def _base_url(self, token: IssuedToken) -> str:
        self._used_endpoint = self._chosen_endpoint(token)
        return self._used_endpoint

    def _chosen_endpoint(self, token: IssuedToken) -> str:
        if self.endpoint:
            return self.endpoint
        if token.ims_endpoint:
            return normalize_endpoint(token.ims_endpoint)
        if self._derived_endpoint:
            if not self._derived_endpoint_logged:
                logger.warning(
                    "the token catalog lists no image service: using %s, derived from cloud and region",
                    self._derived_endpoint,
                )
                self._derived_endpoint_logged = True
            return self._derived_endpoint
        raise ConfigurationError(
            "no IMS endpoint: configure IMS_ENDPOINT or use a token whose catalog lists the image service"
        )

    def call(
        self,
        method: str,
        path: PathFor,
        *,
        operation: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        passthrough: Collection[int] = (),
    ) -> requests.Response:
        """Send with the current token; on 401 once more with a fresh one. Non-2xx becomes a typed error,
        except the statuses in ``passthrough``, which the caller interprets."""
        token = self._tokens.current()
        response = self._send(method, path, token, operation=operation, params=params, body=body)
        if response.status_code == 401:
            self._tokens.invalidate(token)
            token = self._tokens.current()
            response = self._send(method, path, token, operation=operation, params=params, body=body)
            if response.status_code == 401:
                raise TokenRejectedError(
                    f"{operation}: IMS refused the token even after a refresh (HTTP 401)", status=401
                )
        if 200 <= response.status_code < 300 or response.status_code in passthrough:
            return response
        raise error_from_response(response, operation=operation, secrets=(token.value.get_secret_value(),))

    def _send(
        self,
        method: str,
        path: PathFor,
        token: IssuedToken,
        *,
        operation: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
    ) -> requests.Response:
        self._last_token = token
        url = self._base_url(token) + path(token)
        headers = {"X-Auth-Token": token.value.get_secret_value()}
        data = None
        if body is not None:
            headers["Content-Type"] = JSON_CONTENT_TYPE
            data = json.dumps(body).encode()

        def send() -> requests.Response:
            # No redirects: a redirect to another host would carry the token along.
            return self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            )

        try:
            response = with_connect_retries(
                send, service=f"IMS ({operation})", url=url, retries=self._connect_retries
            )
        except TRANSPORT_ERRORS as error:
            raise error_from_transport(error, operation=operation, host=host_of(url)) from None
        logger.debug("IMS %s %s -> %s", method, urlsplit(url).path, response.status_code)
        return response

    def host_hint(self) -> str:
        # The endpoint the calls went to (configured, from the token's catalog, or derived).
        endpoint = self._used_endpoint or self.endpoint or self._derived_endpoint
        return host_of(endpoint) if endpoint else "the catalog's IMS endpoint"

    def token_secrets(self) -> tuple[str, ...]:
        token = self._last_token
        return (token.value.get_secret_value(),) if token is not None else ()
