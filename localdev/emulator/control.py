"""The test-facing control of a running emulator: time, faults, tokens, users, buckets, images, counters.

``Emulator.control`` is an instance; the HTTP control API (``/_emulator/...``) calls the same methods.
Unknown names raise ``KeyError``; bad arguments raise ``ControlError``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from localdev.emulator.clock import ManualClock
from localdev.emulator.dialects import Dialect
from localdev.emulator.faults import Fault, FaultKind, Route
from localdev.emulator.model import GIB, Bucket, EmulatedImage, ExportFailure, StoredObject
from localdev.emulator.obs_control import ObsControl
from localdev.emulator.seed import generate_exportable_images, image_record
from localdev.emulator.state import EmulatorState


@dataclass(frozen=True)
class ExportWrite:
    job_id: str
    bucket: str
    key: str
    size_bytes: int
    written_at: float  # the emulator clock's time


class ControlError(ValueError):
    """A control call that cannot be carried out as asked."""


class Control:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.obs: ObsControl = ObsControl(state)  # objects, credentials and faults of the emulated OBS

    # --- time ---------------------------------------------------------------------------------

    def now(self) -> float:
        return self._state.now()

    @property
    def manual_clock(self) -> bool:
        return isinstance(self._state.clock, ManualClock)

    def advance(self, seconds: float) -> float:
        """Advance the manual clock by ``seconds`` of emulated time; return the new time."""
        clock = self._state.clock
        if not isinstance(clock, ManualClock):
            raise ControlError("the emulator runs on a scaled real-time clock, which cannot be advanced")
        if seconds < 0:
            raise ControlError("seconds must not be negative")
        now = clock.advance(seconds)
        self._state.settle()
        return now

    # --- faults -------------------------------------------------------------------------------

    def inject(
        self,
        route: Route | str,
        kind: FaultKind | str,
        *,
        times: int = 1,
        retry_after_seconds: int = 1,
        delay_seconds: float = 0.0,
        skip: int = 0,
    ) -> None:
        """Make the next ``times`` requests to ``route`` (after ``skip`` good ones) fail with ``kind``."""
        try:
            fault = Fault(FaultKind(kind), times, retry_after_seconds, delay_seconds, skip)
            self._state.faults.add(Route(route), fault)
        except ValueError as error:
            raise ControlError(str(error)) from None

    def clear_faults(self) -> None:
        self._state.faults.clear()

    def pending_faults(self) -> dict[str, int]:
        return self._state.faults.pending()

    # --- answer dialects ----------------------------------------------------------------------

    def set_dialect(self, **changes: Any) -> dict[str, Any]:
        """Change how IAM and IMS answer from now on (``dialects.Dialect`` fields); return the dialect."""
        with self._state.lock:
            try:
                self._state.dialect = self._state.dialect.changed(**changes)
            except (TypeError, ValueError) as error:
                raise ControlError(str(error)) from None
            return self._state.dialect.as_dict()

    def reset_dialect(self) -> None:
        with self._state.lock:
            self._state.dialect = Dialect()

    def dialect(self) -> dict[str, Any]:
        return self._state.dialect.as_dict()

    # --- tokens and the user ------------------------------------------------------------------

    def revoke_tokens(self, token: str | None = None) -> int:
        """Revoke one token, or all; return how many. Unknown token: KeyError."""
        return self._state.tokens.revoke(token)

    def expire_tokens(self, token: str | None = None) -> int:
        """Make one token, or all, expire now; return how many. Unknown token: KeyError."""
        return self._state.tokens.expire(self._state.now(), token)

    def set_user(self, *, locked: bool | None = None, disabled: bool | None = None) -> None:
        """Lock (IAM.0061) or disable (IAM.0082) the user, or undo it."""
        with self._state.lock:
            if locked is not None:
                self._state.user.locked = locked
            if disabled is not None:
                self._state.user.disabled = disabled

    # --- buckets ------------------------------------------------------------------------------

    def register_bucket(self, name: str, region: str | None = None, storage_class: str = "STANDARD") -> None:
        """Make a bucket reachable for exports (in ``region``, default the emulator's region, and of
        ``storage_class``: an export into one that is not STANDARD fails, as the procedure warns)."""
        with self._state.lock:
            if name not in self._state.buckets:
                self._state.buckets[name] = Bucket(
                    name, region or self._state.config.region, storage_class=storage_class.upper()
                )

    @property
    def region(self) -> str:
        return self._state.config.region

    @property
    def project_id(self) -> str:
        return self._state.config.project_id

    def export_writes(self) -> list[ExportWrite]:
        """When each export job writes its object: a failed one writes none, and none is written while
        the exports are lost (``obs.set_exports(lost=True)``)."""
        with self._state.lock:
            if self._state.obs.exports_lost:
                return []
            return [
                ExportWrite(job.job_id, job.bucket, job.object_name, job.size_bytes, job.ends_at)
                for job in self._state.jobs.values()
                if job.failure is None
            ]

    def smn_messages(self) -> list[dict[str, str]]:
        """What the emulated SMN would have POSTed to subscription endpoints (it POSTs nothing), oldest
        first: the endpoint, the message type (``X-SMN-MESSAGE-TYPE``) and the signed body."""
        return [
            {"endpoint": message.endpoint, "type": message.message_type, "body": message.body}
            for message in self._state.smn_topics.messages()
        ]

    def bucket_objects(self, bucket: str) -> list[str]:
        self._state.settle()
        with self._state.lock:
            return sorted(self._state.buckets[bucket].objects)

    def put_object(self, bucket: str, object_name: str, size_bytes: int = 0) -> None:
        """Create an object as if uploaded by someone else (an export to it then gets IMG.0070)."""
        with self._state.lock:
            self._state.buckets[bucket].objects[object_name] = StoredObject(
                size_bytes, self._state.now(), "", ""
            )

    # --- images -------------------------------------------------------------------------------

    def add_image(
        self,
        name: str,
        *,
        size_gib: float = 4,
        image_id: str | None = None,
        status: str = "active",
        activate_after_seconds: float | None = None,
        fail_export: ExportFailure | None = None,
        **fields: Any,
    ) -> str:
        """Add an image (a private one of the project unless ``fields`` say otherwise): ``fields`` are
        ``seed.image_record`` arguments (``platform=``, ``imagetype=``) or record fields (``owner=``).
        A ``queued`` image becomes active after ``activate_after_seconds`` (default: the config's)."""
        state = self._state
        now = state.now()
        image_id = image_id or str(uuid.uuid4())
        fields.setdefault("owner", state.project.id)
        record = image_record(
            image_id=image_id,
            name=name,
            created_at=now,
            size_bytes=int(size_gib * GIB),
            status=status,
            **fields,
        )
        image = EmulatedImage(record, export_failure=fail_export)
        if status in ("queued", "saving"):
            delay = state.config.image_activation_seconds
            delay = delay if activate_after_seconds is None else activate_after_seconds
            image.saving_at, image.activate_at = now + delay / 2, now + delay
        try:
            state.add_image(image)
        except ValueError as error:
            raise ControlError(str(error)) from None
        return image_id

    def generate_images(self, count: int) -> list[str]:
        """Add ``count`` exportable images (deterministic ids, see ``seed.fleet_image_id``)."""
        if count < 1:
            raise ControlError("count must be at least 1")
        state = self._state
        with state.lock:
            first = sum(1 for image in state.images.values() if image.name.startswith("fleet-"))
            images = generate_exportable_images(state.project.id, count, state.now(), first)
            for image in images:
                state.add_image(image)
        return [image.id for image in images]

    def fail_exports_of(
        self,
        image_id: str,
        error_code: str = ExportFailure.error_code,
        fail_reason: str = ExportFailure.fail_reason,
        at_fraction: float | None = None,
    ) -> None:
        """Make future export jobs of the image end in FAIL with this error_code and fail_reason."""
        if at_fraction is not None and not 0 < at_fraction < 1:
            raise ControlError("at_fraction must be between 0 and 1")
        with self._state.lock:
            self._state.images[image_id].export_failure = ExportFailure(error_code, fail_reason, at_fraction)

    def image(self, image_id: str) -> dict[str, Any]:
        self._state.settle()
        with self._state.lock:
            return self._state.images[image_id].api_record()

    # --- jobs and counters --------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any]:
        """The job as the job API shows it, plus where it writes (``bucket``, ``object_name``)."""
        now = self._state.settle()
        with self._state.lock:
            job = self._state.jobs[job_id]
            return {**job.api_body(now), "bucket": job.bucket, "object_name": job.object_name}

    def jobs(self) -> list[dict[str, Any]]:
        with self._state.lock:
            job_ids = list(self._state.jobs)
        return [self.job(job_id) for job_id in job_ids]

    def counters(self) -> dict[str, Any]:
        """``{"requests": {route: n}, "tokens_issued": n, "export_jobs": {image_id: n}}``."""
        return self._state.counters.snapshot()

    def requests(self, route: Route | str) -> int:
        return self._state.counters.requests(route)

    @property
    def tokens_issued(self) -> int:
        return self._state.counters.tokens_issued

    def export_jobs(self, image_id: str | None = None) -> int:
        return self._state.counters.export_jobs(image_id)

    def reset_counters(self) -> None:
        self._state.counters.reset()
