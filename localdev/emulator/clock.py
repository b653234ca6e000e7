"""Emulated time: every delay in the emulator (token expiry, image activation, export duration) is
measured on a clock that is either real time sped up, or advanced by hand.

Times are POSIX seconds (floats) in UTC.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

# 2025-01-06T08:00:00Z: a fixed, documented start for the manual clock so that tests are reproducible.
DEFAULT_MANUAL_START = datetime(2025, 1, 6, 8, 0, 0, tzinfo=UTC).timestamp()


class Clock(Protocol):
    def now(self) -> float:
        """The current emulated time, in POSIX seconds."""
        ...


class ScaledClock:
    """Real time multiplied by ``speed``, starting at the real time of creation."""

    def __init__(self, speed: float = 1.0, real_time: Callable[[], float] = time.time) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._real_time = real_time
        self._origin = real_time()

    def now(self) -> float:
        return self._origin + (self._real_time() - self._origin) * self.speed

    def __repr__(self) -> str:
        return f"ScaledClock(speed={self.speed})"


class ManualClock:
    """Stands still until ``advance`` is called (by a test, or by a runner instead of sleeping)."""

    def __init__(self, start: float = DEFAULT_MANUAL_START) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (never backwards); return the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot be advanced by a negative number of seconds")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock(now={iso_seconds(self.now())})"


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def iso_seconds(timestamp: float) -> str:
    """IMS image timestamps: ``2025-01-06T08:00:00Z``."""
    return _utc(timestamp).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_millis(timestamp: float) -> str:
    """IMS job timestamps: ``2024-11-06T06:46:51.929Z``."""
    moment = _utc(timestamp)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_micros(timestamp: float) -> str:
    """IAM token timestamps: ``2020-01-04T09:05:22.701000Z``."""
    return _utc(timestamp).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 UTC time as found in IMS filters (``Z`` or an offset); raise ValueError if bad."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
