"""What a person watching a local run sees: heartbeats during real waits, and one closing sentence.

``RunWatch`` remembers the latest job the progress lines showed, so that a heartbeat can say how far the
export got, and an interrupted run can say which IMS job goes on without it and how to follow it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any, TextIO

DEFAULT_HEARTBEAT_SECONDS = 60.0
# A line on stderr echoes values from the event or the cloud: it is cut to this length (as the outcome on
# stdout cuts them), and a value named inside a sentence (an image id) to the shorter one.
MAX_LINE_CHARS = 2000
MAX_VALUE_CHARS = 100
# What to do after the errors a person can act on (docs/troubleshooting.md says more).
ADVICE = {
    "InvalidRequestError": "fix the event as the message says",
    "SmnMessageRefusedError": "only signed deliveries of the topics in SMN_ALLOWED_TOPIC_URNS "
    "(SmnAllowedTopicUrns) start an export; the message says what this one lacks",
    "SmnCertificateUnavailableError": "the message's signing certificate could not be fetched, so it was "
    "not verified and nothing was exported; if it was a genuine notification, export the image by hand",
    "ImageNotExportableError": "this image cannot be exported as asked (the message names the rule)",
    "ImageNotFoundError": "check the image id and the project (OS_PROJECT_NAME / ProjectName)",
    "ImageNotReadyError": "wait until the image is active, then run again",
    "ExportAlreadyRunningError": "follow the running export, or wait for it to end",
    "ObjectAlreadyExistsError": "choose another bucket_url, or keep {date}/{time} in EXPORT_OBJECT_PATTERN",
    "ExportTargetError": "check the bucket: same region, Standard storage class, writable by the user",
    "AuthenticationError": "check the user name, password and domain (OS_* variables or clouds.yaml)",
    "AccountLockedError": "the IAM user is locked: unlock it in the IAM console",
    "ConfigurationError": "fix the setting the message names",
    "ExportJobFailed": "read error_code and fail_reason in the output",
    "ExportTimedOut": "raise EXECUTION_TIMEOUT_SECONDS (Settings) for very large images",
}


class RunInterrupted(Exception):
    """A wait was cut short because the person stopped the run (Ctrl-C)."""


def duration(seconds: float) -> str:
    """The project's one way to write a duration (``ims_export.clock.duration_text``)."""
    from ims_export.clock import duration_text

    return duration_text(seconds)


def counted(count: Any, noun: str) -> str:
    """``1 poll``, ``2 polls``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def cut(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """``text``, cut to ``limit`` characters (marked by an ellipsis) when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def with_advice(sentence: str, advice: str | None) -> str:
    """``sentence; advice`` (a full stop that ends the sentence makes way for the semicolon)."""
    return f"{sentence.rstrip().rstrip('.')}; {advice}" if advice else sentence


def percent_text(percent: Any) -> str:
    return f"{percent:.1f} %" if isinstance(percent, int | float) else "n/a"


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
            export = f"{_image(known, None)}{target}"
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
            f"{_image(job, None)} to {job.get('bucket_url')} is still {job.get('status')} at "
            f"{percent_text(job.get('percent'))}; {hint}"
        )


def _cause_message(cause: Any) -> str:
    """The readable message of a cause: a Lambda error's ``errorMessage``, or the text itself."""
    if isinstance(cause, str):
        with suppress(ValueError):
            cause = json.loads(cause)
    if isinstance(cause, Mapping):
        return str(cause.get("errorMessage") or cause.get("reason") or cause.get("cause") or "")
    return "" if cause is None else str(cause)


def _image(outcome: Mapping[str, Any], fallback: str | None) -> str:
    """``image <id> (<name>)``; values from the event or the cloud, each cut to a readable length."""
    image_id = outcome.get("image_id") or fallback
    if not image_id:
        return "the image"
    name = outcome.get("image_name")
    image = f"image {cut(str(image_id), MAX_VALUE_CHARS)}"
    return f"{image} ({cut(str(name), MAX_VALUE_CHARS)})" if name else image


def one_line(text: str) -> str:
    """``text`` as one printable line of at most ``MAX_LINE_CHARS``: values from the input (an image
    id ending in a newline, an escape sequence, a huge value) must not split the closing line, drive
    the terminal or flood it."""
    return cut(" ".join("".join(char if char.isprintable() else " " for char in text).split()))


def closing_sentence(status: str, output: Any, *, image_id: str | None = None) -> str:
    """One sentence on what happened to the export: where it went, how long, how many polls; or the
    error, its message and what to do."""
    outcome: Mapping[str, Any] = output if isinstance(output, Mapping) else {}
    if status == "SUCCEEDED" and outcome.get("status") == "SUCCEEDED":
        seconds = outcome.get("elapsed_seconds")
        took = f" in {duration(float(seconds))}" if isinstance(seconds, int | float) else ""
        return (
            f"exported {_image(outcome, image_id)} to {outcome.get('bucket_url')}{took}"
            f"{_seen(outcome)}{_object_clause(outcome.get('object'))}"
            f"{_retention_clause(outcome.get('retention'))}"
        )
    if status == "SUCCEEDED" and outcome.get("status") == "DUPLICATE":
        return (
            f"{_image(outcome, image_id)} is being exported already (job {outcome.get('job_id')}, "
            f"by {outcome.get('original_execution') or 'another execution'}): no second export was started"
        )
    if status == "SUCCEEDED" and outcome.get("status") == "REFUSED":  # the SMN endpoint's refusals
        error = str(outcome.get("error") or "refused")
        return with_advice(f"refused, nothing exported: {error}: {outcome.get('message')}", ADVICE.get(error))
    if status == "SUCCEEDED":
        return f"execution succeeded: {outcome.get('phase') or outcome.get('status') or 'done'}"
    # A failed execution's document is its outcome (localdev/result.py); the outcome's cause is the
    # caught error, structured ({"errorType", "errorMessage"}).
    inner = outcome
    error = str(outcome.get("error") or status)
    message = (
        inner.get("reason")
        or _cause_message(inner.get("cause"))
        or ": ".join(str(part) for part in (inner.get("error_code"), inner.get("fail_reason")) if part)
        or inner.get("message")
    )
    target = f" to {inner['bucket_url']}" if inner.get("bucket_url") else ""
    advice = ADVICE.get(error) or ADVICE.get(_cause_error(inner.get("cause")) or "")
    if (
        error == "ExportAlreadyRunningError"
        or _cause_error(inner.get("cause")) == "ExportAlreadyRunningError"
    ):
        image = inner.get("image_id") or image_id or "<image id>"
        advice = (
            "IMS exports this image already (a run you stopped?): follow that export with the command the "
            f"stopped run printed, make follow JOB=<its job id> IMAGE={image}, or wait for it to end"
        )
    if error == "InvalidRequestError" and not inner.get("job_id"):  # refused before any IMS call
        named = f" for {_image(inner, image_id)}{target}" if inner.get("image_id") or image_id else ""
        sentence = f"refused, nothing exported{named}: {error}"
    else:
        sentence = f"export of {_image(inner, image_id)}{target} failed: {error}"
    if message:
        sentence += f": {_without_the_subject(str(message), inner.get('image_id') or image_id)}"
    return with_advice(sentence, advice)


def _without_the_subject(message: str, image_id: Any) -> str:
    """The error's message after the sentence has named the image and target: the start step's prefix
    (``export of image <id> to <target> as <format>: ``) dropped, and the image called "the image"."""
    if not image_id:
        return message
    subject = re.escape(f"export of image {image_id}")
    message = re.sub(rf"^{subject}(?: to \S+ as [^:]+)?: ", "", message)
    return message.replace(f"image {image_id}", "the image")


def _seen(outcome: Mapping[str, Any]) -> str:
    """How the end was seen: ``with 3 polls``, or ``noticed by OBS notification after 2 checks`` when a
    notification of the object ended a wait."""
    if isinstance(outcome.get("noticed"), Mapping):
        return f", noticed by OBS notification after {counted(outcome.get('polls'), 'check')}"
    return f" with {counted(outcome.get('polls'), 'poll')}"


def _object_clause(exported: Any) -> str:
    """``; object verified, 2147483648 bytes at <url>``, or why it is unverified."""
    if not isinstance(exported, Mapping):
        return ""
    if exported.get("verification") == "verified":
        return f"; object verified, {exported.get('size_bytes')} bytes at {exported.get('url')}"
    return f"; object unverified: {exported.get('verification_reason')}"


def _retention_clause(retention: Any) -> str:
    if not isinstance(retention, Mapping):
        return ""
    if retention.get("skipped_reason") and not retention.get("deleted_count"):
        return f"; retention did not run: {retention['skipped_reason']}"
    if retention.get("dry_run"):
        return f"; retention (dry run) would delete {retention.get('would_delete_count')} older exports"
    failed = f", {retention['failed_count']} failed" if retention.get("failed_count") else ""
    return f"; retention deleted {retention.get('deleted_count')} older exports{failed}"


def _cause_error(cause: Any) -> str | None:
    if isinstance(cause, str):
        with suppress(ValueError):
            cause = json.loads(cause)
    return str(cause.get("errorType")) if isinstance(cause, Mapping) and cause.get("errorType") else None
