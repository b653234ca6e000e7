"""The one notion of "now" of the deployed code: an aware datetime in UTC (tests and the local runner
pass clocks of their own wherever time matters); and the one way a duration is written for people."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def duration_text(seconds: float) -> str:
    """``0.5s``, ``53s``, ``1m 15s``, ``2h 05m 00s``, ``9d 16h 46m``: whole seconds from 10 s on, tenths
    below (never ``0s`` for a moment that was not nothing)."""
    if seconds < 10 and round(seconds, 1) != round(seconds):
        return f"{seconds:.1f}s"
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {rest:02d}s"
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"
