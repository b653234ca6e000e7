"""One ``requests.Session`` per process, with connect and read timeouts on every call.

A call that cannot even connect (refused, unknown host) is retried here a bounded number of times,
each retry logged with the host: nothing was sent, so this is safe for any call, and a wrong endpoint
then fails within seconds, naming the host, instead of after minutes of state machine retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from ims_export.errors import UpstreamUnreachableError

logger = logging.getLogger(__name__)

USER_AGENT = "ims-export/0.1 (+requests)"
DEFAULT_CONNECT_RETRIES = 2
CONNECT_RETRY_FIRST_DELAY_SECONDS = 0.5

ResultT = TypeVar("ResultT")


def new_session() -> requests.Session:
    """A session that reuses connections across calls and warm invocations.

    Retries are not done here (except for a connection that cannot be made, see
    ``with_connect_retries``): the caller maps failures to typed errors and the state machine retries
    them with backoff, so that nothing is retried twice at two levels.
    """
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    return session


def timeouts(connect_seconds: float, read_seconds: float) -> tuple[float, float]:
    return (connect_seconds, read_seconds)


def host_of(url: str) -> str:
    """``host[:port]`` of ``url``, for messages (never a path, query or user info)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def could_not_connect(error: BaseException) -> bool:
    """True if no connection was made at all (refused, unreachable, unknown host): nothing was sent."""
    if not isinstance(error, requests.ConnectionError) or isinstance(error, requests.Timeout):
        return False
    reason = error.args[0] if error.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError | NameResolutionError)


def with_connect_retries(
    send: Callable[[], ResultT],
    *,
    service: str,
    url: str,
    retries: int = DEFAULT_CONNECT_RETRIES,
    sleep: Callable[[float], None] = time.sleep,
) -> ResultT:
    """``send()``, retried up to ``retries`` times while no connection can be made; then
    UpstreamUnreachableError naming the host. Other errors pass through unchanged."""
    host = host_of(url)
    attempt = 0
    while True:
        try:
            return send()
        except requests.ConnectionError as error:
            if not could_not_connect(error):
                raise
            if attempt >= retries:
                raise UpstreamUnreachableError(
                    f"{service}: could not connect to {host} ({attempt + 1} attempts); "
                    f"check that the {service} endpoint is right and reachable"
                ) from None
            delay = CONNECT_RETRY_FIRST_DELAY_SECONDS * 2**attempt
            attempt += 1
            logger.warning(
                "%s: could not connect to %s; retry %d of %d in %.1f s",
                *(service, host, attempt, retries, delay),
            )
            sleep(delay)
