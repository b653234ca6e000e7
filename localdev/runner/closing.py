"""The one sentence that closes a run: where the export went, how long it took and how many polls; or
the error, its message and what to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from localdev.runner.text import counted, duration, image_phrase, with_advice

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


def _cause_message(cause: Any) -> str:
    """The readable message of a cause: a Lambda error's ``errorMessage``, or the text itself."""
    if isinstance(cause, str):
        with suppress(ValueError):
            cause = json.loads(cause)
    if isinstance(cause, Mapping):
        return str(cause.get("errorMessage") or cause.get("reason") or cause.get("cause") or "")
    return "" if cause is None else str(cause)


def closing_sentence(status: str, output: Any, *, image_id: str | None = None) -> str:
    """One sentence on what happened to the export: where it went, how long, how many polls; or the
    error, its message and what to do."""
    outcome: Mapping[str, Any] = output if isinstance(output, Mapping) else {}
    if status == "SUCCEEDED" and outcome.get("status") == "SUCCEEDED":
        seconds = outcome.get("elapsed_seconds")
        took = f" in {duration(float(seconds))}" if isinstance(seconds, int | float) else ""
        return (
            f"exported {image_phrase(outcome, image_id)} to {outcome.get('bucket_url')}{took}"
            f"{_seen(outcome)}{_object_clause(outcome.get('object'))}"
            f"{_retention_clause(outcome.get('retention'))}"
        )
    if status == "SUCCEEDED" and outcome.get("status") == "DUPLICATE":
        return (
            f"{image_phrase(outcome, image_id)} is being exported already (job {outcome.get('job_id')}, "
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
        named = f" for {image_phrase(inner, image_id)}{target}" if inner.get("image_id") or image_id else ""
        sentence = f"refused, nothing exported{named}: {error}"
    else:
        sentence = f"export of {image_phrase(inner, image_id)}{target} failed: {error}"
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
