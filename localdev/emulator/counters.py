"""What the emulator has seen, for tests to assert on: requests per route, tokens issued, export jobs."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from localdev.emulator.faults import Route


class Counters:
    """Thread-safe counts since start (or the last ``reset``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._tokens_issued = 0
        self._export_jobs: Counter[str] = Counter()

    def request(self, route: Route) -> None:
        with self._lock:
            self._requests[str(route)] += 1

    def token_issued(self) -> None:
        with self._lock:
            self._tokens_issued += 1

    def export_job_created(self, image_id: str) -> None:
        with self._lock:
            self._export_jobs[image_id] += 1

    def requests(self, route: Route | str) -> int:
        with self._lock:
            return self._requests[str(Route(route))]

    @property
    def tokens_issued(self) -> int:
        with self._lock:
            return self._tokens_issued

    def export_jobs(self, image_id: str | None = None) -> int:
        """Export jobs created for ``image_id``, or for all images."""
        with self._lock:
            if image_id is None:
                return sum(self._export_jobs.values())
            return self._export_jobs[image_id]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": {str(route): self._requests[str(route)] for route in Route},
                "tokens_issued": self._tokens_issued,
                "export_jobs": dict(self._export_jobs),
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._tokens_issued = 0
            self._export_jobs.clear()
