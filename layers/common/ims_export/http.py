"""One ``requests.Session`` per process, with connect and read timeouts on every call."""

from __future__ import annotations

import requests

USER_AGENT = "ims-export/0.1 (+requests)"


def new_session() -> requests.Session:
    """A session that reuses connections across calls and warm invocations.

    Retries are not done here: the caller maps failures to typed errors and the state machine retries
    them with backoff, so that nothing is retried twice at two levels.
    """
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    return session


def timeouts(connect_seconds: float, read_seconds: float) -> tuple[float, float]:
    return (connect_seconds, read_seconds)
