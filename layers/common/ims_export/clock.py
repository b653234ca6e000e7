"""The one notion of "now" of the deployed code: an aware datetime in UTC (tests and the local runner
pass clocks of their own wherever time matters)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
