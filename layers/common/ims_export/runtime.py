"""Client wiring for the Lambda handlers: one lazily built ``Clients`` bundle per process.

Warm invocations reuse the HTTP session and the token cache. Tests and the local runner replace the
bundle with ``use_clients`` (fakes, or real clients pointed at an emulator).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ims_export.clock import utc_now
from ims_export.domain.export_request import ExportRequest
from ims_export.domain.images import Image
from ims_export.domain.jobs import Job
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import UpstreamThrottledError
from ims_export.settings import Settings, default_ims_endpoint

if TYPE_CHECKING:
    from ims_export.auth.cache import RefreshReport


class ImsApi(Protocol):
    """The IMS calls the workflow and the fleet's selection make (``ims_export.cloud.ims.ImsClient``)."""

    def export_image(self, request: ExportRequest) -> str: ...

    def get_job(self, job_id: str) -> Job: ...

    def get_job_progress(self, job_id: str) -> float | None: ...

    def get_image(self, image_id: str) -> Image: ...

    def list_images(
        self, filters: Mapping[str, str], *, page_size: int = ..., max_items: int | None = ...
    ) -> Iterator[Image]: ...


class TokenStore(Protocol):
    """A token source that can also be refreshed ahead of time (``ims_export.auth.cache.TokenCache``)."""

    def current(self) -> IssuedToken: ...

    def invalidate(self, token: IssuedToken) -> None: ...

    def refresh_if_needed(self, margin_seconds: float) -> RefreshReport: ...

    @property
    def refreshes(self) -> int:
        """How many tokens this process has obtained from IAM."""
        ...


@dataclass(frozen=True)
class Clients:
    settings: Settings
    tokens: TokenStore
    ims: ImsApi
    # The workflow's notion of "now"; a local run substitutes the emulator's clock.
    clock: Callable[[], datetime] = field(default=utc_now)

    def project_id(self) -> str:
        """The configured project id, else the one the token is scoped to."""
        return self.settings.project_id or self.tokens.current().project_id


def build_clients(settings: Settings) -> Clients:
    """Real clients for ``settings``; imported here so that a cold start only loads what it uses."""
    from ims_export.auth.cache import token_cache_from_settings  # noqa: PLC0415
    from ims_export.cloud.http import new_session, timeouts  # noqa: PLC0415
    from ims_export.cloud.ims import ImsClient  # noqa: PLC0415

    session = new_session()
    tokens = token_cache_from_settings(settings, session)
    ims = ImsClient(
        tokens,
        session,
        timeouts(settings.http_connect_timeout_seconds, settings.http_read_timeout_seconds),
        settings.ims_endpoint,
        cloud=settings.cloud,
        derived_endpoint=default_ims_endpoint(settings.cloud, settings.region),
        connect_retries=settings.connect_retries,
    )
    return Clients(settings=settings, tokens=tokens, ims=ims)


_clients: Clients | None = None


def get_clients() -> Clients:
    """The process-wide bundle, built from the environment on first use."""
    global _clients  # noqa: PLW0603 - one bundle per Lambda process, on purpose
    if _clients is None:
        _clients = build_clients(Settings.from_env())
    return _clients


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide bundle's settings, without building its clients: for a step that calls no cloud
    (building them would cost its cold start their imports)."""
    global _settings  # noqa: PLW0603 - read once per Lambda process, as the bundle is
    if _clients is not None:
        return _clients.settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def now() -> datetime:
    """The workflow's "now" (see ``Clients.clock``) for a step that needs no clients: building them
    only for the time would cost a cold start its imports."""
    return _clients.clock() if _clients is not None else utc_now()


@contextmanager
def use_clients(clients: Clients) -> Iterator[Clients]:
    """Make ``clients`` the process-wide bundle for the duration of the block."""
    global _clients  # noqa: PLW0603
    previous, _clients = _clients, clients
    try:
        yield clients
    finally:
        _clients = previous


def _token_refreshes() -> int:
    return _clients.tokens.refreshes if _clients is not None else 0


@contextmanager
def counting_upstream_events(metrics: Any) -> Iterator[None]:
    """Count ``Throttled`` (IMS or IAM throttled; re-raised) and ``TokenRefreshed`` (tokens obtained
    from IAM during the block, on the hot path or by the refresher) in ``metrics`` (Powertools Metrics)."""
    refreshes_before = _token_refreshes()
    try:
        yield
    except UpstreamThrottledError:
        metrics.add_metric(name="Throttled", unit="Count", value=1)
        raise
    finally:
        refreshed = _token_refreshes() - refreshes_before
        if refreshed > 0:
            metrics.add_metric(name="TokenRefreshed", unit="Count", value=refreshed)
