"""Fault injection: make the next N requests to a route fail the way the real services can fail.

Faults on a route are queued and used up in order. A fault applies before the request is handled
(nothing happens on the emulated cloud), except DROP_AFTER_PROCESSING, which handles the request and
then closes the connection without an answer: the case of a lost response.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from localdev.emulator.replies import Reply, gateway_throttled, ims_error, keystone_error


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
    return None
