"""What the emulator knows: the user, the project, OBS buckets and IMS images."""

from __future__ import annotations

import copy
import hmac
from dataclasses import dataclass, field
from typing import Any

from localdev.emulator.clock import iso_seconds

GIB = 1024**3
PENDING_STATUSES = frozenset({"queued", "saving"})


@dataclass
class User:
    id: str
    name: str
    domain_id: str
    domain_name: str
    password: str = field(repr=False)
    locked: bool = False
    disabled: bool = False

    def password_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.password.encode())


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    region: str
    domain_id: str
    domain_name: str


@dataclass(frozen=True)
class StoredObject:
    size_bytes: int
    written_at: float
    image_id: str
    job_id: str


@dataclass
class Bucket:
    name: str
    region: str
    objects: dict[str, StoredObject] = field(default_factory=dict)
    storage_class: str = "STANDARD"  # OBS's names: STANDARD, WARM, COLD, DEEP_ARCHIVE
    # The bucket's event notification configuration (PUT /?notification replaces it whole).
    notification: tuple[TopicConfiguration, ...] = ()


@dataclass(frozen=True)
class TopicConfiguration:
    """One ``TopicConfiguration`` of a bucket's event notification: filter rules as (name, value)."""

    id: str
    topic: str
    events: tuple[str, ...]
    filter_rules: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ExportFailure:
    """How an export of a doomed image ends: the job's ``error_code`` and ``fail_reason``."""

    error_code: str = "IMG.0500"
    fail_reason: str = "Failed to export the image file to OBS (emulated failure)."
    at_fraction: float | None = None  # None: EmulatorConfig.fail_at_fraction


@dataclass
class EmulatedImage:
    """An IMS image: ``record`` holds the fields exactly as ``GET /v2/cloudimages`` returns them."""

    record: dict[str, Any]
    saving_at: float | None = None  # queued -> saving
    activate_at: float | None = None  # queued/saving -> active
    export_failure: ExportFailure | None = None

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def name(self) -> str:
        return str(self.record.get("name", ""))

    @property
    def status(self) -> str:
        return str(self.record["status"])

    def text(self, name: str) -> str:
        """A field as text; absent and null read as empty."""
        value = self.record.get(name)
        return "" if value is None else str(value)

    def flag(self, name: str) -> bool:
        """A boolean field, which IMS sends as the string ``"true"`` or ``"false"``."""
        return self.text(name).lower() == "true"

    @property
    def size_bytes(self) -> int:
        """The larger of ``__image_size`` and ``min_disk`` (GiB), as the exportability rules apply."""
        image_size = int(self.text("__image_size") or 0)
        min_disk = int(self.text("min_disk") or 0)
        return max(image_size, min_disk * GIB)

    @property
    def data_bytes(self) -> int:
        """The bytes an export actually copies."""
        return int(self.text("__image_size") or 0) or self.size_bytes

    @property
    def encrypted(self) -> bool:
        return bool(self.text("__system__cmkid"))

    def settle(self, now: float) -> None:
        """Apply the status changes that have become due by ``now``."""
        if self.status not in PENDING_STATUSES:
            return
        if self.activate_at is not None and now >= self.activate_at:
            self._set_status("active", self.activate_at)
            self.record["active_at"] = iso_seconds(self.activate_at)
        elif self.saving_at is not None and now >= self.saving_at and self.status == "queued":
            self._set_status("saving", self.saving_at)

    def _set_status(self, status: str, at: float) -> None:
        self.record["status"] = status
        self.record["updated_at"] = iso_seconds(at)

    def api_record(self) -> dict[str, Any]:
        return copy.deepcopy(self.record)
