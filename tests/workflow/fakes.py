"""In-memory stand-ins at the ImsClient/TokenSource boundary that record every call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from ims_export.auth.cache import RefreshReport
from ims_export.domain.export_request import ExportRequest
from ims_export.domain.images import GIB, Image
from ims_export.domain.jobs import Job
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import ImageNotFoundError
from ims_export.runtime import Clients
from ims_export.settings import Settings

PROJECT_ID = "0b9b2a7c4f1e4d3c8a6f5e4d3c2b1a09"
IMAGE_ID = "5b4c8f0e-3a1d-4e7b-9c2a-1f6d8e9a0b11"
OTHER_IMAGE_ID = "7d2e1f3a-9b8c-4d5e-a6f7-0123456789ab"
BUCKET = "ims-export-demo"
SECRET_TOKEN = "MIIsecret-token-SECRET-value-0123456789"
JOB_ID = "ff8080817c2f8b7e017c3a1b2c3d0001"


def make_image(
    image_id: str = IMAGE_ID, *, name: str = "web server (prod)", status: str = "active", **extra: Any
) -> Image:
    data: dict[str, Any] = {
        "id": image_id,
        "name": name,
        "status": status,
        "owner": PROJECT_ID,
        "visibility": "private",
        "__imagetype": "private",
        "__image_size": str(12 * GIB),
        "min_disk": "40",
        "__platform": "Debian",
        "__os_type": "Linux",
    }
    data.update(extra)
    return Image.model_validate(data)


def make_job(status: str, *, job_id: str = JOB_ID, **extra: Any) -> Job:
    return Job.model_validate(
        {"job_id": job_id, "status": status, "job_type": "imsNativeExportImageJob", **extra}
    )


class FakeTokens:
    def __init__(self) -> None:
        self.token = IssuedToken(
            value=SecretStr(SECRET_TOKEN),
            expires_at=datetime.now(UTC) + timedelta(hours=20),
            project_id=PROJECT_ID,
        )
        self.refresh_margins: list[float] = []
        self.refreshes = 0

    def current(self) -> IssuedToken:
        return self.token

    def invalidate(self, token: IssuedToken) -> None:
        return None

    def refresh_if_needed(self, margin_seconds: float) -> RefreshReport:
        self.refresh_margins.append(margin_seconds)
        self.refreshes += 1
        return RefreshReport(
            refreshed=True,
            expires_at=self.token.expires_at,
            seconds_left=self.token.seconds_left(),
            tier="Advanced",
        )


@dataclass
class FakeIms:
    """Scripted IMS: image states and job statuses are served in order (the last one repeats).

    ``failures[method]`` holds exceptions raised by the next calls of that method, one per call.
    """

    tokens: FakeTokens
    images: dict[str, list[Image]] = field(default_factory=dict)
    job_statuses: list[Job] = field(default_factory=lambda: [make_job("SUCCESS")])
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def add_image(self, *versions: Image) -> None:
        self.images[versions[0].id] = list(versions)

    def script_jobs(self, statuses: Iterable[Job]) -> None:
        self.job_statuses = list(statuses)

    def fail_next(self, method: str, *errors: Exception) -> None:
        self.failures.setdefault(method, []).extend(errors)

    def _enter(self, method: str, argument: Any) -> None:
        self.tokens.current()  # as the real client does: every call is authenticated
        self.calls.append((method, argument))
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)

    def calls_to(self, method: str) -> list[Any]:
        return [argument for name, argument in self.calls if name == method]

    def get_image(self, image_id: str) -> Image:
        self._enter("get_image", image_id)
        versions = self.images.get(image_id)
        if not versions:
            raise ImageNotFoundError(f"get image {image_id}: no such image in this project")
        return versions.pop(0) if len(versions) > 1 else versions[0]

    def list_images(
        self, filters: Mapping[str, str], *, page_size: int = 100, max_items: int | None = None
    ) -> Iterator[Image]:
        """Every image added (the latest version of each); the filters are IMS's business, not the
        single-image steps' these fakes serve."""
        self._enter("list_images", dict(filters))
        latest = [versions[-1] for versions in self.images.values()]
        return iter(latest if max_items is None else latest[:max_items])

    def export_image(self, request: ExportRequest) -> str:
        self._enter("export_image", request)
        return JOB_ID

    def get_job(self, job_id: str) -> Job:
        self._enter("get_job", job_id)
        return self.job_statuses.pop(0) if len(self.job_statuses) > 1 else self.job_statuses[0]

    def get_job_progress(self, job_id: str) -> float | None:
        self._enter("get_job_progress", job_id)
        return None


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "project_id": PROJECT_ID,
        "export_bucket": BUCKET,
        "poll_min_seconds": 15,
        "poll_max_seconds": 600,
        # The fakes have no OBS: the target's pre-flight and the verification run against the emulator
        # (tests/obs/test_preflight.py, tests/obs/test_verification.py).
        "preflight_target": False,
        "verify_exported_object": False,
    }
    values.update(overrides)
    return Settings.model_validate(values)


def make_clients(ims: FakeIms, settings: Settings | None = None) -> Clients:
    return Clients(settings=settings or make_settings(), tokens=ims.tokens, ims=ims)
