"""The emulated cloud: account, buckets, images, jobs and tokens, moved forward by the clock.

Time-driven changes (an image becoming active, a finished export writing its object) are applied by
``settle()``, which every request and control call runs first: no background thread is needed, and
with a manual clock nothing changes until the clock is advanced.
"""

from __future__ import annotations

import secrets
import threading

from localdev.emulator import seed
from localdev.emulator.clock import Clock
from localdev.emulator.config import EmulatorConfig
from localdev.emulator.counters import Counters
from localdev.emulator.dialects import Dialect
from localdev.emulator.faults import FaultPlan
from localdev.emulator.jobs import ExportJob, JobStatus
from localdev.emulator.model import Bucket, EmulatedImage, ExportFailure, Project, StoredObject, User
from localdev.emulator.obs_state import ObsState
from localdev.emulator.smn_topics import SmnTopics
from localdev.emulator.tokens import TokenRegistry
from localdev.emulator.validation import ExportOrder


class EmulatorState:
    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        # One lock for the whole model: requests are short, and ordering is then trivially right.
        self.lock = threading.RLock()
        self.base_url = ""
        self.user = User(
            id=config.user_id,
            name=config.user_name,
            domain_id=config.domain_id,
            domain_name=config.domain_name,
            password=config.user_password,
        )
        self.project = Project(
            id=config.project_id,
            name=config.project_name,
            region=config.region,
            domain_id=config.domain_id,
            domain_name=config.domain_name,
        )
        self.buckets: dict[str, Bucket] = {name: Bucket(name, config.region) for name in config.buckets}
        self.buckets.setdefault(
            seed.ARCHIVE_BUCKET, Bucket(seed.ARCHIVE_BUCKET, config.region, storage_class="COLD")
        )
        self.buckets.setdefault(seed.OTHER_REGION_BUCKET, Bucket(seed.OTHER_REGION_BUCKET, seed.OTHER_REGION))
        self.images: dict[str, EmulatedImage] = {}
        self.jobs: dict[str, ExportJob] = {}
        self.tokens = TokenRegistry()
        self.faults = FaultPlan()
        self.counters = Counters()
        self.dialect = Dialect()  # the documented answers; see dialects.py
        # Set when the server stops: stalled ("slow") answers are then dropped, never handled late.
        self.stopping = threading.Event()
        self.obs = ObsState()  # temporary credentials and OBS faults (objects are in buckets)
        self.smn_topics = SmnTopics(config.region, config.project_id)  # topics, subscriptions, deliveries
        if config.seed_images:
            now = clock.now()
            for image in seed.default_images(config.project_id, now, config.image_activation_seconds):
                self.add_image(image)

    def now(self) -> float:
        return self.clock.now()

    def settle(self) -> float:
        """Apply every change due by now; return now."""
        now = self.clock.now()
        with self.lock:
            for image in self.images.values():
                image.settle(now)
            for job in self.jobs.values():
                if not job.delivered and job.view(now).status is JobStatus.SUCCESS:
                    self._deliver(job)
        return now

    def _deliver(self, job: ExportJob) -> None:
        bucket = self.buckets.get(job.bucket)
        if bucket is not None and not self.obs.exports_lost:
            backdated = self.obs.exports_backdated_seconds
            written_at = job.created_at - backdated if backdated else job.ends_at
            bucket.objects[job.object_name] = StoredObject(
                job.size_bytes, written_at, job.image_id, job.job_id
            )
        job.delivered = True

    def add_image(self, image: EmulatedImage) -> None:
        with self.lock:
            if image.id in self.images:
                raise ValueError(f"image {image.id} exists already")
            self.images[image.id] = image

    @staticmethod
    def _visible(image: EmulatedImage, project_id: str) -> bool:
        # Shared images are modelled as shared with every project of the emulator.
        return image.text("owner") == project_id or image.text("visibility") in ("public", "shared")

    def visible_images(self, project_id: str) -> list[EmulatedImage]:
        """What a project can list: its own images, public images and images shared with it."""
        with self.lock:
            return [image for image in self.images.values() if self._visible(image, project_id)]

    def visible_image(self, image_id: str, project_id: str) -> EmulatedImage | None:
        with self.lock:
            image = self.images.get(image_id)
        if image is None or not self._visible(image, project_id):
            return None
        return image

    def export_in_progress(self, image_id: str, now: float) -> ExportJob | None:
        with self.lock:
            return next(
                (job for job in self.jobs.values() if job.image_id == image_id and job.in_progress(now)),
                None,
            )

    def exports_in_progress(self, now: float) -> int:
        with self.lock:
            return sum(1 for job in self.jobs.values() if job.in_progress(now))

    def create_export_job(
        self, image: EmulatedImage, order: ExportOrder, project_id: str, now: float
    ) -> ExportJob:
        config = self.config
        size = image.data_bytes
        failure = image.export_failure
        storage_class = self.buckets[order.bucket].storage_class
        if failure is None and storage_class != "STANDARD":  # IMS takes the order, the upload fails
            failure = ExportFailure(
                fail_reason=f"Failed to export the image file to OBS: the bucket's storage class is "
                f"{storage_class}, not Standard (emulated)."
            )
        job = ExportJob(
            job_id=secrets.token_hex(16),
            project_id=project_id,
            image_id=image.id,
            image_name=image.name,
            bucket=order.bucket,
            object_name=order.object_name,
            file_format=order.file_format,
            size_bytes=size,
            created_at=now,
            init_seconds=config.job_init_seconds,
            duration_seconds=max(config.min_export_seconds, size / config.export_bytes_per_second),
            failure=failure,
            fail_fraction=(
                failure.at_fraction if failure and failure.at_fraction else config.fail_at_fraction
            ),
        )
        with self.lock:
            self.jobs[job.job_id] = job
        self.counters.export_job_created(image.id)
        return job
