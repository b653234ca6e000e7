"""What a person watching a local run sees while it waits: heartbeats, and what runs on when it stops.

``RunWatch`` remembers the latest job the progress lines showed, so that a heartbeat can say how far the
export got, and an interrupted run can say which IMS job goes on without it and how to follow it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from localdev.runner.text import duration, image_phrase, percent_text

DEFAULT_HEARTBEAT_SECONDS = 60.0


class RunInterrupted(Exception):
    """A wait was cut short because the person stopped the run (Ctrl-C)."""


class ProgressMemory:
    """The most each job has shown: IMS's percent is a hint (its scale and order are undocumented), so
    a lower one is printed with what came before, never as if the export went backwards unnoticed."""

    def __init__(self) -> None:
        self._most: dict[str, float] = {}

    def text(self, job: Mapping[str, Any]) -> str:
        percent, job_id = job.get("percent"), str(job.get("job_id"))
        shown = percent_text(percent)
        if not isinstance(percent, int | float):
            return shown
        most = self._most.get(job_id)
        self._most[job_id] = max(percent, most if most is not None else percent)
        if most is not None and percent < most:
            return f"{shown} (IMS reports less than the {percent_text(most)} before: its progress is a hint)"
        return shown


class RunWatch:
    """The latest job of a run, its start, and the waits a real-cloud run sleeps through."""

    def __init__(
        self,
        stream: TextIO,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.heartbeat_seconds = heartbeat_seconds
        self._monotonic = monotonic
        self.started = monotonic()
        self.job: dict[str, Any] = {}
        # Every job seen, by id: a fleet runs several at once, and Ctrl-C must name each running one.
        self.jobs: dict[str, dict[str, Any]] = {}
        self.image_id: str | None = None
        # What the start step said the export will be, before any job exists (image name, bucket_url).
        self.image_name: str | None = None
        self.bucket_url: str | None = None
        self.real_cloud = False
        # How long the run waits for the execution (TIMEOUT), counted from the run's start.
        self.timeout: float | None = None
        self._lock = threading.Lock()
        self._cancelled = threading.Event()

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def saw_job(self, job: Mapping[str, Any], *, child: bool = False) -> None:
        """A job state seen in an execution's history (``child``: in a fleet's child execution)."""
        with self._lock:
            if job.get("job_id"):
                self.jobs[str(job["job_id"])] = dict(job)
            if not child:
                self.job = dict(job)
                self.image_id = str(job.get("image_id") or self.image_id or "") or None

    def saw_target(self, image_name: Any, bucket_url: Any) -> None:
        """The export a start step named before it started a job (waiting for the image, claiming)."""
        with self._lock:
            if isinstance(image_name, str) and image_name:
                self.image_name = image_name
            if isinstance(bucket_url, str) and bucket_url:
                self.bucket_url = bucket_url

    def running_jobs(self) -> list[dict[str, Any]]:
        """Every job seen whose last state had not ended."""
        with self._lock:
            return [dict(job) for job in self.jobs.values() if job.get("status") not in ("SUCCESS", "FAIL")]

    def known(self) -> dict[str, Any]:
        """What the run knows of its export so far: image, target and job (for a document of its end)."""
        with self._lock:
            return {
                "image_id": self.image_id,
                "image_name": self.image_name,
                "bucket_url": self.bucket_url,
                "job_id": self.job.get("job_id"),
            }

    def running_job(self) -> dict[str, Any] | None:
        """The job last seen, if it had not ended."""
        with self._lock:
            if self.job.get("job_id") and self.job.get("status") not in ("SUCCESS", "FAIL"):
                return dict(self.job)
            return None

    def elapsed(self) -> float:
        return self._monotonic() - self.started

    def time_left(self, timeout: float) -> float:
        """What is left of ``timeout`` (TIMEOUT, when set: it counts from the run's start)."""
        if self.timeout is None:
            return timeout
        return max(self.timeout - self.elapsed(), 0.0)

    def _timed_out(self) -> bool:
        return self.timeout is not None and self.elapsed() >= self.timeout

    def cancel(self) -> None:
        self._cancelled.set()

    def real_wait(self, seconds: float) -> None:
        """Sleep ``seconds`` (a Wait state or a retry interval of a real-cloud run), with a heartbeat
        line every ``heartbeat_seconds``; raises RunInterrupted at once when the run is stopped."""
        end = self._monotonic() + seconds
        while (left := end - self._monotonic()) > 0:
            if self._cancelled.wait(min(left, self.heartbeat_seconds)):
                raise RunInterrupted
            left = end - self._monotonic()
            # Past TIMEOUT the run is giving up: no heartbeat may claim more time than it waited.
            if left > 0.5 and not self._timed_out():
                self.say(self.heartbeat(left))
        if self._cancelled.is_set():
            raise RunInterrupted

    def heartbeat(self, next_poll_seconds: float) -> str:
        with self._lock:
            job = dict(self.job)
        state = (
            f"job {job.get('job_id')} {job.get('status')} {percent_text(job.get('percent'))}"
            if job
            else "no job yet"
        )
        next_poll = round(next_poll_seconds)
        return f"  .. {duration(round(self.elapsed()))} elapsed, {state}, next poll in {duration(next_poll)}"

    def follow_hint(self, job: Mapping[str, Any]) -> str:
        command = f"make follow JOB={job.get('job_id')}"
        if job.get("image_id"):
            command += f" IMAGE={job['image_id']}"
        if job.get("bucket_url"):
            command += f" BUCKET_URL={job['bucket_url']}"
        return command

    def interrupted(self) -> str:
        """The closing sentence of a run stopped with Ctrl-C."""
        running = self.running_jobs()
        if len(running) > 1:
            if not self.real_cloud:
                return f"interrupted: the {len(running)} emulated export jobs ended with this run"
            return (
                f"interrupted: {len(running)} export jobs are still running in the cloud; follow each: "
                + ("; ".join(self.follow_hint(job) for job in running))
            )
        job = self.running_job() or (running[0] if running else None)
        if job is None:
            return "interrupted: no export job was running, nothing goes on in the cloud"
        if not self.real_cloud:
            return f"interrupted: the emulated export job {job.get('job_id')} ended with this run"
        return (
            f"interrupted: export job {job.get('job_id')} of image {job.get('image_id')} is still running "
            f"in the cloud; follow it to its end with: {self.follow_hint(job)}"
        )

    def gave_up(self, timeout: float) -> str:
        """The closing sentence of a run that stopped waiting at TIMEOUT: what runs on, what to do."""
        gave_up = f"gave up after {duration(timeout)} (TIMEOUT)"
        again = "run again with a larger TIMEOUT (or none)"
        job = self.running_job()
        if job is None:
            with self._lock:
                known = {"image_id": self.image_id, "image_name": self.image_name}
                target = f" to {self.bucket_url}" if self.bucket_url else ""
            export = f"{image_phrase(known, None)}{target}"
            if not self.real_cloud:
                return (
                    f"{gave_up}: no export job of {export} had started; "
                    f"the emulator stops with this run: {again}"
                )
            return (
                f"{gave_up}: no export job of {export} had started, so nothing runs on in IMS unless its "
                f"start call was under way: check the image's export tasks in the IMS console, or {again}"
            )
        hint = (
            f"it goes on in IMS: follow it with {self.follow_hint(job)}"
            if self.real_cloud
            else f"the emulator stops with this run: {again}"
        )
        return (
            f"{gave_up}: export job {job.get('job_id')} of "
            f"{image_phrase(job, None)} to {job.get('bucket_url')} is still {job.get('status')} at "
            f"{percent_text(job.get('percent'))}; {hint}"
        )
