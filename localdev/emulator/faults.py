"""Fault injection: make the next N requests to a route fail the way the real services can fail.

Faults on a route are queued and used up in order. A fault applies before the request is handled
(nothing happens on the emulated cloud), except the ``*_AFTER_PROCESSING`` kinds and those that
rewrite the handled answer (JOB_ID_ONLY, UNDOCUMENTED_STATUS, NO_SUBJECT_TOKEN): DROP_AFTER_PROCESSING
handles the request and then closes the connection without an answer (a lost response).
SLOW stalls the answer for ``delay_seconds`` and then answers normally; a stall still pending when the
emulator stops is dropped, never handled late.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from localdev.emulator.replies import Reply, gateway_throttled, html_page, ims_error, keystone_error

UNDOCUMENTED_STATUS = "DONE"
# Kinds that let the request be handled and then change (or drop) its answer.
AFTER_PROCESSING = frozenset(
    {
        "drop_after_processing",
        "html_after_processing",
        "job_id_only",
        "undocumented_status",
        "no_subject_token",
    }
)


class Route(StrEnum):
    IAM_TOKEN = "iam_token"  # noqa: S105 (a route name) POST /v3/auth/tokens
    EXPORT = "export"  # POST /v1/cloudimages/{image_id}/file
    JOB = "job"  # GET /v1/{project_id}/jobs/{job_id}
    JOB_PROGRESS = "job_progress"  # GET /v1/cloudimages/job/{job_id}
    IMAGE_LIST = "image_list"  # GET /v2/cloudimages


class FaultKind(StrEnum):
    THROTTLED = "throttled"  # 429 + Retry-After, API gateway body (APIG.0308)
    IAM_THROTTLED = "iam_throttled"  # 429 + Retry-After, IAM.0012
    FLOW_CONTROL = "flow_control"  # 400 IMG.0060
    SERVER_ERROR = "server_error"  # 500
    UNAVAILABLE = "unavailable"  # 503
    SLOW = "slow"  # answer normally after ``delay_seconds`` of real time
    DROP = "drop"  # close the connection without an answer, nothing handled
    DROP_AFTER_PROCESSING = "drop_after_processing"  # handle, then close without an answer
    HTML = "html"  # 200 with an HTML page, nothing handled
    EMPTY = "empty"  # 200 with an empty body, nothing handled
    EMPTY_OBJECT = "empty_object"  # 200 with {}, nothing handled
    HTML_AFTER_PROCESSING = "html_after_processing"  # handle, then 200 with an HTML page
    JOB_ID_ONLY = "job_id_only"  # handle, answer only {"job_id": ...}
    UNDOCUMENTED_STATUS = "undocumented_status"  # handle, answer with status "DONE"
    NO_SUBJECT_TOKEN = "no_subject_token"  # noqa: S105 (a fault name) handle, 201 without X-Subject-Token


@dataclass
class Fault:
    kind: FaultKind
    times: int = 1
    retry_after_seconds: int = 1
    delay_seconds: float = 0.0
    skip: int = 0  # let this many requests through first

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)
        if self.times < 1 or self.skip < 0 or self.retry_after_seconds < 0 or self.delay_seconds < 0:
            raise ValueError("times must be >= 1; skip, retry_after_seconds, delay_seconds >= 0")


@dataclass
class FaultPlan:
    """The pending faults of every route. Thread-safe."""

    _pending: dict[Route, deque[Fault]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, route: Route, fault: Fault) -> None:
        with self._lock:
            self._pending.setdefault(Route(route), deque()).append(fault)

    def take(self, route: Route) -> Fault | None:
        """The fault for this request to ``route``, or None; uses up one occurrence."""
        with self._lock:
            queue = self._pending.get(route)
            if not queue:
                return None
            fault = queue[0]
            if fault.skip:
                fault.skip -= 1
                return None
            fault.times -= 1
            if fault.times == 0:
                queue.popleft()
            return fault

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> dict[str, int]:
        """Occurrences still to come, per route."""
        with self._lock:
            return {
                str(route): sum(fault.times for fault in queue)
                for route, queue in self._pending.items()
                if queue
            }


def fault_reply(fault: Fault) -> Reply | None:
    """The answer an error fault gives instead of handling the request; None for the other kinds."""
    retry_after = {"Retry-After": str(fault.retry_after_seconds)}
    match fault.kind:
        case FaultKind.THROTTLED:
            return gateway_throttled(fault.retry_after_seconds)
        case FaultKind.IAM_THROTTLED:
            return keystone_error(
                429,
                "The throttling threshold has been reached. Threshold: 10 times per 1 seconds",
                "IAM.0012",
                retry_after,
            ).reply
        case FaultKind.FLOW_CONTROL:
            return ims_error(
                "IMG.0060",
                "The number of tasks exceeds the flow control limit. Please try again later.",
            ).reply
        case FaultKind.SERVER_ERROR:
            return keystone_error(500, "Internal server error (injected fault).").reply
        case FaultKind.UNAVAILABLE:
            return keystone_error(503, "Service temporarily unavailable (injected fault).").reply
        case FaultKind.HTML:
            return html_page()
        case FaultKind.EMPTY:
            return Reply(200, raw=b"")
        case FaultKind.EMPTY_OBJECT:
            return Reply(200, {})
    return None


def rewrite_handled(fault: Fault, reply: Reply) -> Reply:
    """The answer an after-processing fault sends instead of the handled ``reply``."""
    body = reply.body if isinstance(reply.body, dict) else {}
    match fault.kind:
        case FaultKind.HTML_AFTER_PROCESSING:
            return html_page()
        case FaultKind.JOB_ID_ONLY:
            job_id = body.get("job_id", body.get("jobId"))
            return Reply(reply.status, {"job_id": job_id}, dict(reply.headers))
        case FaultKind.UNDOCUMENTED_STATUS:
            return Reply(reply.status, {**body, "status": UNDOCUMENTED_STATUS}, dict(reply.headers))
        case FaultKind.NO_SUBJECT_TOKEN:
            headers = {name: value for name, value in reply.headers.items() if name != "X-Subject-Token"}
            return Reply(reply.status, reply.body, headers)
    return reply
