"""OBS as a step reaches it: temporary credentials issued for one bucket from the cached IAM token, a
client for the configured cloud and region, and bounded retries within the step's time budget.

The credentials live in one call only: never in SSM, the state, the outcome or a log. Reads wait at most
``READ_TIMEOUT_CAP_SECONDS``; no call starts after ``TIME_BUDGET_SECONDS`` (each step's own task has a
TimeoutSeconds well above it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from ims_export.cloud.http import new_session, timeouts
from ims_export.cloud.obs import ObsClient
from ims_export.cloud.obs_address import ObsAddress
from ims_export.cloud.temporary_credentials import TemporaryCredentials, TemporaryCredentialsClient
from ims_export.errors import TransientError, UpstreamTimeoutError
from ims_export.runtime import Clients

logger = logging.getLogger(__name__)

ATTEMPTS = 3  # per call: the first try and two more for a 5xx, a throttle or no answer
FIRST_RETRY_DELAY_SECONDS = 0.5
TIME_BUDGET_SECONDS = 15.0
READ_TIMEOUT_CAP_SECONDS = 10.0

ResultT = TypeVar("ResultT")


class ObsAccess:
    """One session and one pair of timeouts for a step's OBS calls."""

    def __init__(self, clients: Clients) -> None:
        settings = clients.settings
        self._clients = clients
        self._session = new_session()
        self._timeout = timeouts(
            settings.http_connect_timeout_seconds,
            min(settings.http_read_timeout_seconds, READ_TIMEOUT_CAP_SECONDS),
        )

    def credentials(self, bucket: str, *, allow_delete: bool = False) -> TemporaryCredentials:
        """Credentials narrowed to ``bucket`` where the cloud accepts the policy."""
        issuer = TemporaryCredentialsClient(
            self._clients.tokens, self._clients.settings.iam_endpoint, self._session, self._timeout
        )
        return issuer.issue_for_bucket(bucket, allow_delete=allow_delete)

    def client(self, credentials: TemporaryCredentials) -> ObsClient:
        clients = self._clients
        return ObsClient.for_settings(
            credentials, self._session, self._timeout, clients.settings, clients.clock
        )

    def url(self, bucket: str, key: str) -> str:
        """The object's HTTPS address for the cloud and region (or the configured OBS endpoint)."""
        settings = self._clients.settings
        return ObsAddress(settings.cloud, settings.region, settings.obs_endpoint).url(bucket, key)


class Attempts:
    """Bounded retries of transient failures within one time budget, each retry logged."""

    def __init__(
        self,
        job_id: str,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._job_id = job_id
        self._sleep = sleep
        self._monotonic = monotonic
        self._deadline = monotonic() + TIME_BUDGET_SECONDS

    def time_left(self) -> float:
        return self._deadline - self._monotonic()

    def run(self, operation: str, call: Callable[[], ResultT]) -> ResultT:
        delay = FIRST_RETRY_DELAY_SECONDS
        for attempt in range(1, ATTEMPTS + 1):
            if self.time_left() <= 0:
                raise UpstreamTimeoutError(
                    f"{operation}: the {TIME_BUDGET_SECONDS:.0f} s for OBS are used up"
                )
            try:
                return call()
            except TransientError as error:
                if attempt == ATTEMPTS or self.time_left() <= delay:
                    raise
                logger.warning(
                    "job %s: %s failed (attempt %d of %d), again in %.1f s: %s",
                    self._job_id,
                    operation,
                    attempt,
                    ATTEMPTS,
                    delay,
                    error.message,
                )
                self._sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
