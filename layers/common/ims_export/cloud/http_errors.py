"""The retryable typed errors an HTTP answer's status says, shared by the OBS-side clients."""

from __future__ import annotations

import requests

from ims_export.cloud.ims_errors import retry_after_seconds
from ims_export.errors import TransientError, UpstreamThrottledError, UpstreamUnavailableError


def transient_error(
    response: requests.Response, text: str, code: str | None, *, throttled: bool = False
) -> TransientError | None:
    """429 (or ``throttled``) is UpstreamThrottledError with Retry-After, 5xx UpstreamUnavailableError;
    None for any other answer."""
    status = response.status_code
    if status == 429 or throttled:
        return UpstreamThrottledError(
            text,
            code=code,
            status=status,
            retry_after_seconds=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if status >= 500:
        return UpstreamUnavailableError(text, code=code, status=status)
    return None
