"""How long to wait before the next job query.

A poll is cheap but not free (three state transitions, one Lambda call, one IMS call), and exports take
from a minute to many hours. The goal: notice completion within max(30 s, 5 % of the job's duration)
with as few polls as possible.

A wait no longer than that tolerance, taken at the current elapsed time, is always safe, because the
job cannot end before now. A longer wait is taken only across time in which the job cannot plausibly
end yet: the image at the fastest plausible export speed, counted from the start, and the share
still to copy, at that speed, after the progress reported so far. Progress is read pessimistically:
it is refreshed only now and then, drifts, stalls, jumps and may come in coarse steps (0, 50, 100),
so a reading of 50 may mean nearly done (its scale is settled where the job is read, in ``jobs``).
Speed extrapolated from progress is not used: in simulation (``make bench``, several worlds of jobs) it
misled more often than it helped, as did any faster-than-plausible bound on the export speed.

The function is pure: no clock, no state beyond its arguments.
"""

from __future__ import annotations

import math

from ims_export.errors import ConfigurationError

# Completion should be seen within this share of the job's duration, or within the floor for short
# jobs. The target is 5 % and 30 s; these leave room for the poll's own latency (Wait, Lambda, IMS).
DELAY_FRACTION = 0.049
DELAY_FLOOR_SECONDS = 29.0

# No export moves image bytes faster than this (about five times a typical export), so
# size / speed is the earliest plausible end of the copy.
FASTEST_EXPORT_BYTES_PER_SECOND = 150e6

# A reading may lag the truth (stale refresh, noise, a jump since): credit this many points more.
PERCENT_ALLOWANCE = 15.0
# A round reading may stand for anything up to the next step of its size: 50 may mean 99.9.
PERCENT_STEPS = (50.0, 25.0, 10.0, 5.0, 1.0)

# Larger than any exportable image (the limit is 1 TB): such a size is garbage, not a reason to wait.
MAX_PLAUSIBLE_IMAGE_BYTES = 1 << 50


def _usable_percent(percent: object) -> float | None:
    """A percentage (``ims_export.domain.jobs.parse_percent`` reads the job's ``process_percent`` on
    either scale into one) in (0, 100], or None when it tells nothing. Zero tells nothing either: some
    jobs report 0 until they are done."""
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        return None
    value = float(percent)
    if not math.isfinite(value) or value <= 0:
        return None
    return min(value, 100.0)


def _usable_elapsed(elapsed_seconds: object) -> float:
    if isinstance(elapsed_seconds, bool) or not isinstance(elapsed_seconds, int | float):
        return 0.0
    value = float(elapsed_seconds)
    return value if math.isfinite(value) and value > 0 else 0.0


def _usable_size(image_size_bytes: object) -> int | None:
    if isinstance(image_size_bytes, bool) or not isinstance(image_size_bytes, int):
        return None
    return image_size_bytes if 0 < image_size_bytes <= MAX_PLAUSIBLE_IMAGE_BYTES else None


def _reading_resolution(percent: float) -> float:
    return next((step for step in PERCENT_STEPS if percent % step == 0), 0.0)


def detection_tolerance(elapsed_seconds: float) -> float:
    """How late completion may be noticed for a job that runs at least ``elapsed_seconds``."""
    return max(DELAY_FLOOR_SECONDS, DELAY_FRACTION * elapsed_seconds)


def quiet_seconds(elapsed_seconds: float, percent: float | None, image_size_bytes: int | None) -> float:
    """Seconds from now during which the job will not plausibly finish (0: it may finish any moment).

    ``percent`` is a usable reading in (0, 100] or None.
    """
    if image_size_bytes is None or (percent is not None and percent >= 100):
        return 0.0  # nothing known, or copied already: the tail (conversion, upload) may end any moment
    whole_copy = image_size_bytes / FASTEST_EXPORT_BYTES_PER_SECOND
    if percent is None:
        return max(0.0, whole_copy - elapsed_seconds)
    progress_ceiling = min(100.0, percent + _reading_resolution(percent) + PERCENT_ALLOWANCE)
    still_to_copy = whole_copy * (1 - progress_ceiling / 100)
    # The start-anchored bound holds however stale or coarse the reading is; take whichever is longer.
    return max(0.0, whole_copy - elapsed_seconds, still_to_copy)


def choose_next_wait(
    *,
    elapsed_seconds: float,
    percent: float | None,
    image_size_bytes: int | None,
    min_seconds: int,
    max_seconds: int,
) -> int:
    """Seconds to wait before the next poll of a running job, within [min_seconds, max_seconds].

    ``percent`` is the job's ``process_percent``; None, 0 or anything unusable means unknown.
    ``image_size_bytes`` is the image's ``__image_size``; None or unusable means unknown.
    Raises ``ConfigurationError`` unless 1 <= min_seconds <= max_seconds.
    """
    if min_seconds < 1 or max_seconds < min_seconds:
        raise ConfigurationError(
            f"poll bounds must satisfy 1 <= min <= max, got min={min_seconds}, max={max_seconds}"
        )
    elapsed = _usable_elapsed(elapsed_seconds)
    quiet = quiet_seconds(elapsed, _usable_percent(percent), _usable_size(image_size_bytes))
    wait = min(quiet + detection_tolerance(elapsed + quiet), float(max_seconds))
    return max(min(math.floor(wait), max_seconds), min_seconds)
