"""The retryable typed errors an HTTP answer's status says: one mapping for IAM, IMS and OBS."""

from __future__ import annotations

import requests

from ims_export.errors import TransientError, UpstreamThrottledError, UpstreamUnavailableError


def transient_error_class(status: int, *, throttled: bool = False) -> type[TransientError] | None:
    """429 (or ``throttled``, a service's own throttling code) is UpstreamThrottledError, 5xx
    UpstreamUnavailableError; None for an answer that retrying would not change."""
    if status == 429 or throttled:
        return UpstreamThrottledError
    if status >= 500:
        return UpstreamUnavailableError
    return None


def transient_error(
    response: requests.Response, text: str, code: str | None, *, throttled: bool = False
) -> TransientError | None:
    """The retryable error ``response``'s status says (see ``transient_error_class``), or None."""
    error_class = transient_error_class(response.status_code, throttled=throttled)
    return error_class(text, code=code, status=response.status_code) if error_class else None
