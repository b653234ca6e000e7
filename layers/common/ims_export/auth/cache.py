"""The IAM token cache: process memory first, then an SSM SecureString shared by all functions, then IAM.

- ``current()`` returns the token held in memory while it has more than the refresh margin left, so
  warm invocations make no call at all. Otherwise it reads SSM (bypassing any cache: through the
  Parameters and Secrets Lambda Extension where it is attached, else Powertools; see
  ``parameter_store``) and, if SSM has nothing usable either, gets a new token from IAM and stores it.
- Only a refresh creates a boto3 client (the SSM writer and the credentials read, the refresh lock's
  DynamoDB client): a cold start that finds a valid token through the extension creates none.
- ``invalidate(token)`` (IMS answered 401) drops that token. The next ``current()`` takes a newer one
  from SSM if another process stored one already, else refreshes.
- A missing, unreadable or corrupt SSM record counts as empty and is replaced; a throttled read is
  transient (UpstreamThrottledError), not a reason to ask IAM.
- Whether a token is still good is judged on IAM's clock, with the margin capped at a share of the
  token's lifetime (``IssuedToken.needs_refresh``): short-lived tokens and skewed clocks cost one IAM
  call per refresh period, not one per use.
- Refreshes are serialized by a ``threading.Lock`` inside a process and, when a refresh lock is given,
  across processes (see ``refresh_lock``): of many cold starts that find the same stale record, one
  calls IAM and the others wait for its token to appear in SSM.

Powertools' ``set()`` does not update its in-memory cache, so the new token is kept locally too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import requests
from pydantic import BaseModel, ConfigDict

from ims_export.auth.codec import STANDARD_TIER_LIMIT, EncodedRecord, Tier, decode_record, encode_record
from ims_export.auth.credentials import load_credentials
from ims_export.auth.parameter_store import (
    LazySSMProvider,
    ParameterReader,
    ParameterStore,
    PowertoolsParameterReader,
    parameter_error_code,
    token_reader_from_env,
)
from ims_export.auth.refresh_lock import (
    EMPTY_GENERATION,
    LazyRefreshLock,
    LockOutcome,
    RefreshLock,
    RefreshMetadata,
    backoff_delays,
    dynamodb_refresh_lock,
)
from ims_export.clock import utc_now
from ims_export.cloud.http import timeouts
from ims_export.cloud.iam import IamClient
from ims_export.domain.credentials import Credentials
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import TokenCacheCorruptError, TokenRefreshInProgressError
from ims_export.settings import Settings

logger = logging.getLogger(__name__)

# How long a process waits for another one's refresh to show up in SSM before giving up.
DEFAULT_LOCK_WAIT_SECONDS = 10.0
# The AWS-managed key that SSM uses for SecureStrings by default (Powertools' typing wants it explicit).
SSM_DEFAULT_KMS_KEY = "alias/aws/ssm"


class RefreshReport(BaseModel):
    """What the scheduled refresher did; JSON-safe and free of the token."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # only the refresher builds one

    refreshed: bool
    expires_at: datetime
    seconds_left: float
    tier: Tier | None  # None: the token was refreshed but could not be stored


@dataclass(frozen=True)
class _Obtained:
    token: IssuedToken
    refreshed: bool
    tier: Tier | None


class TokenCache:
    """A ``TokenSource`` backed by SSM Parameter Store and IAM. One instance per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        iam: IamClient,
        ssm: ParameterStore,
        credentials_loader: Callable[[], Credentials],
        token_reader: ParameterReader | None = None,
        refresh_lock: RefreshLock | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    ) -> None:
        self._settings = settings
        self._iam = iam
        self._ssm = ssm
        self._token_reader = token_reader or PowertoolsParameterReader(ssm)
        self._credentials_loader = credentials_loader
        self._refresh_lock = refresh_lock
        self._clock = clock
        self._sleep = sleep
        self._lock_wait_seconds = lock_wait_seconds
        self._lock = threading.Lock()
        self._memory: IssuedToken | None = None
        self._rejected: IssuedToken | None = None
        # Tokens this process got from IAM: handlers turn increases into a TokenRefreshed metric.
        self.refreshes = 0

    # --- TokenSource ----------------------------------------------------------------------------

    def current(self) -> IssuedToken:
        margin = self._settings.token_refresh_margin_seconds
        token = self._memory
        if token is not None and self._usable(token, margin):
            return token
        with self._lock:
            return self._obtain(margin, trust_memory=True).token

    def invalidate(self, token: IssuedToken) -> None:
        with self._lock:
            if self._rejected is None or token.expires_at >= self._rejected.expires_at:
                self._rejected = token
            if self._memory == token:
                self._memory = None

    # --- scheduled refresher --------------------------------------------------------------------

    def refresh_if_needed(self, margin_seconds: float) -> RefreshReport:
        """Make sure SSM holds a token with more than ``margin_seconds`` left (memory is not trusted)."""
        with self._lock:
            obtained = self._obtain(margin_seconds, trust_memory=False)
        return RefreshReport(
            refreshed=obtained.refreshed,
            expires_at=obtained.token.expires_at,
            seconds_left=obtained.token.seconds_left(self._clock()),
            tier=obtained.tier,
        )

    # --- internals (called with self._lock held) --------------------------------------------------

    def _usable(self, token: IssuedToken, margin: float) -> bool:
        if token.needs_refresh(margin, self._clock()):
            return False
        if self._settings.project_id and token.project_id != self._settings.project_id:
            return False  # a record of another project (e.g. PROJECT_ID was changed)
        rejected = self._rejected
        # A token IMS refused, or any token issued before it, is not used again.
        return rejected is None or (token.value != rejected.value and token.expires_at >= rejected.expires_at)

    def _adopt(self, stored: _Obtained | None, margin: float) -> _Obtained | None:
        """``stored``, now also held in memory, if it is usable."""
        if stored is None or not self._usable(stored.token, margin):
            return None
        self._memory = stored.token
        return stored

    def _obtain(self, margin: float, *, trust_memory: bool) -> _Obtained:
        if trust_memory and self._memory is not None and self._usable(self._memory, margin):
            return _Obtained(self._memory, refreshed=False, tier=None)
        stored = self._read_stored()
        adopted = self._adopt(stored, margin)
        if adopted is not None:
            return adopted
        generation = stored.token.expires_at.isoformat() if stored is not None else EMPTY_GENERATION
        return self._replace(generation, margin)

    def _replace(self, generation: str, margin: float) -> _Obtained:
        """A new token instead of ``generation``: from IAM, or from whoever replaces it concurrently."""
        lock = self._refresh_lock
        if lock is None:
            return self._refresh_from_iam()
        refreshed: list[_Obtained] = []

        def refresh() -> RefreshMetadata:
            obtained = self._refresh_from_iam()
            refreshed.append(obtained)
            return {"expires_at": obtained.token.expires_at.isoformat(), "tier": obtained.tier}

        delays = backoff_delays(self._lock_wait_seconds)
        result = lock.run(generation, refresh)
        while result.outcome is LockOutcome.BUSY:
            delay = next(delays, None)
            if delay is None:
                raise TokenRefreshInProgressError(
                    f"another invocation is refreshing the IAM token; none appeared within "
                    f"{self._lock_wait_seconds:g} s",
                )
            self._sleep(delay)
            adopted = self._adopt(self._read_stored(), margin)
            if adopted is not None:
                return adopted
            result = lock.run(generation, refresh)  # the other refresher may have failed: try again
        if result.outcome is LockOutcome.RAN:
            return refreshed[0] if refreshed else self._refresh_from_iam()
        adopted = self._adopt(self._read_stored(), margin)
        if adopted is not None:
            return adopted
        # Replaced elsewhere, yet SSM has nothing usable (that write failed, or the record was deleted since).
        return self._refresh_from_iam()

    def _refresh_from_iam(self) -> _Obtained:
        issued = self._iam.issue_token(
            self._credentials_loader(),
            project_name=self._settings.project_name,
            project_id=self._settings.project_id,
        )
        token = issued.model_copy(update={"received_at": self._clock()})
        encoded = encode_record(token)  # TokenTooLargeError before anything is written
        tier = self._store(encoded)
        self._memory = token
        self.refreshes += 1
        logger.info(
            "new IAM token: expires_at=%s, cache tier=%s", token.expires_at.isoformat(), tier or "not stored"
        )
        return _Obtained(token, refreshed=True, tier=tier)

    def _store(self, encoded: EncodedRecord) -> Tier | None:
        """Write the record; the tier used, or None if SSM refused (the token is still good in memory)."""
        # Imported here: Powertools Parameters brings boto3, which only a refresh needs.
        from aws_lambda_powertools.utilities.parameters.exceptions import SetParameterError  # noqa: PLC0415

        name = self._settings.token_parameter
        tiers: list[Tier] = [encoded.tier] if encoded.tier == "Advanced" else ["Standard", "Advanced"]
        for tier in tiers:
            try:
                self._ssm.set(
                    name,
                    encoded.value,
                    overwrite=True,
                    parameter_type="SecureString",
                    tier=tier,
                    kms_key_id=self._settings.kms_key_id or SSM_DEFAULT_KMS_KEY,
                )
            except SetParameterError as error:
                # SSM cannot downgrade an Advanced parameter: a small record then goes to Advanced too.
                downgrade_refused = tier == "Standard" and "downgrade" in str(error).lower()
                if not downgrade_refused:
                    # AWS messages may quote the value: log the error code only.
                    logger.warning(
                        "token cache parameter %r not written: %s", name, parameter_error_code(error)
                    )
                    return None
            else:
                return tier
        return None

    def _read_stored(self) -> _Obtained | None:
        """The stored token, or None when the parameter is missing, unreadable or corrupt."""
        name = self._settings.token_parameter
        value = self._token_reader.read(name)  # logs why it has none, except for a missing parameter
        if value is None:
            return None
        try:
            token = decode_record(value)
        except TokenCacheCorruptError as error:
            logger.warning("token cache parameter %r will be replaced: %s", name, error.message)
            return None
        tier: Tier = "Standard" if len(value) <= STANDARD_TIER_LIMIT else "Advanced"
        return _Obtained(token, refreshed=False, tier=tier)


def token_cache_from_settings(settings: Settings, session: requests.Session) -> TokenCache:
    """The cache as deployed: the token read through the extension where it is attached; the writer, the
    credentials read and the refresh lock (Powertools on the runtime's boto3) built on first use."""
    ssm = LazySSMProvider()
    http_timeouts = timeouts(settings.http_connect_timeout_seconds, settings.http_read_timeout_seconds)
    iam = IamClient(settings.iam_endpoint, session, http_timeouts, connect_retries=settings.connect_retries)
    table = settings.idempotency_table
    refresh_lock = (
        LazyRefreshLock(partial(dynamodb_refresh_lock, table, scope=settings.token_parameter))
        if table
        else None
    )
    return TokenCache(
        settings,
        iam=iam,
        ssm=ssm,
        credentials_loader=partial(load_credentials, ssm, settings.credentials_parameter),
        token_reader=token_reader_from_env(ssm, http_timeouts),
        refresh_lock=refresh_lock,
    )
