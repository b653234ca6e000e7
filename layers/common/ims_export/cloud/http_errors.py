"""The retryable typed errors an HTTP answer's status says, shared by the OBS-side clients."""

from __future__ import annotations

import requests

from ims_export.errors import TransientError, UpstreamThrottledError, UpstreamUnavailableError


def transient_error(
    response: requests.Response, text: str, code: str | None, *, throttled: bool = False
) -> TransientError | None:
    """429 (or ``throttled``) is UpstreamThrottledError, 5xx UpstreamUnavailableError;
    None for any other answer."""
    status = response.status_code
    if status == 429 or throttled:
        return UpstreamThrottledError(
            text,
            code=code,
            status=status,
        )
    if status >= 500:
        return UpstreamUnavailableError(text, code=code, status=status)
    return None
