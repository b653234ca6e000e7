"""What a run on the built-in emulator shows off before its execution starts: earlier exports for
retention to retire (``--earlier-exports``), throttled export calls of a fleet.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from localdev.runner.errors import RunError
from localdev.runner.execution import is_fleet_input
from localdev.runner.targets import CloudTarget
from localdev.runner.text import counted, say

if TYPE_CHECKING:
    from ims_export.settings import Settings
    from ims_export.triggers.orders import ExportOrder
    from localdev.deployment import LocalDeployment
    from localdev.emulator import Control

# A fleet run on the emulator has its export calls throttled (IMG.0060) this often, to show the backoff.
FLEET_DEMO_THROTTLES = 3
# --earlier-exports: a day apart, as the default pattern's {date} tells exports apart; enough to watch.
MAX_EARLIER_EXPORTS = 30
# The pattern fields that tell exports a day apart apart ({time} alone names them all alike).
DAY_FIELDS = ("date", "timestamp")


def plant_earlier_exports(
    control: Control, order: ExportOrder, settings: Settings, *, count: int
) -> list[str]:
    """Put ``count`` objects into the bucket as earlier exports of the order's image would have left
    them: named as the start step names this order's object (same renderer, pattern, bucket and
    format), each at a time one, two, ... days before the order's own (the object names carry it),
    and last modified then. Returns their bucket_urls, oldest first (``check_earlier_exports_pattern``
    keeps them distinct)."""
    from ims_export.domain.export_request import split_bucket_url
    from ims_export.triggers.orders import build_export_request

    if order.bucket_url:
        raise RunError(
            f"EARLIER_EXPORTS: the event names its own object ({order.bucket_url}), and retention retires "
            "only exports named by EXPORT_OBJECT_PATTERN: use an event without bucket_url, "
            "such as events/image-created.json"
        )
    try:
        image_name = str(control.image(order.image_id).get("name") or "")
    except KeyError:
        raise RunError(f"EARLIER_EXPORTS: the emulator has no image {order.image_id}") from None
    now = datetime.fromtimestamp(control.now(), UTC)
    reference = order.requested_at or now
    reference = reference if reference.tzinfo else reference.replace(tzinfo=UTC)
    planted: list[str] = []
    for days in range(count, 0, -1):
        exported_at = reference - timedelta(days=days)
        earlier = order.model_copy(update={"requested_at": exported_at})
        bucket_url = build_export_request(
            earlier, image_name=image_name, settings=settings, now=now
        ).bucket_url
        bucket, name = split_bucket_url(bucket_url)
        age = max((now - exported_at).total_seconds(), 0.0)
        control.obs.plant_object(bucket, name, size_bytes=1024, age_seconds=age, image_id=order.image_id)
        if bucket_url not in planted:
            planted.append(bucket_url)
    return planted


def emulator_demo_step(
    earlier_exports: int, event: Any, target: CloudTarget
) -> Callable[[LocalDeployment], object] | None:
    """What the emulator shows off before the execution starts (after the run's first line, and
    only once the run is not refused): earlier exports to retire, throttled export calls of a fleet."""
    plant = earlier_exports_step(earlier_exports, event, target)
    control = target.control
    if control is None or not is_fleet_input(event):
        return plant

    def throttle(deployment: LocalDeployment) -> None:
        if plant is not None:  # pragma: no cover - a fleet input is refused by earlier_exports_step
            plant(deployment)
        control.inject("export", "flow_control", times=FLEET_DEMO_THROTTLES)
        say(sys.stderr, f"emulator: the next {FLEET_DEMO_THROTTLES} export calls are throttled")

    return throttle


def check_earlier_exports_pattern(pattern: str) -> None:
    """EARLIER_EXPORTS plants exports a day apart for retention to retire: the pattern must tell them
    apart (a date) and name the image (retention's candidates carry its id)."""
    from ims_export.domain.naming import pattern_fields

    fields = pattern_fields(pattern)
    lacking = [
        what
        for what, present in (
            ("{date} or {timestamp} (exports a day apart must get distinct names)", fields & set(DAY_FIELDS)),
            ("{image_id} (retention retires only names carrying the image id)", "image_id" in fields),
        )
        if not present
    ]
    if lacking:
        raise RunError(
            f"EARLIER_EXPORTS needs an EXPORT_OBJECT_PATTERN with {' and '.join(lacking)}; "
            f"{pattern!r} has not: unset EXPORT_OBJECT_PATTERN or add them"
        )


def earlier_exports_step(
    count: int, event: Any, target: CloudTarget
) -> Callable[[LocalDeployment], object] | None:
    """--earlier-exports as the run's ``before_start`` step; RunError where it cannot apply."""
    from ims_export.triggers.orders import order_named_by

    if not count:
        return None
    if target.control is None:
        raise RunError(
            "EARLIER_EXPORTS puts objects into the built-in emulator's OBS only: unset OS_CLOUD/OS_AUTH_URL"
        )
    order = order_named_by(event) if isinstance(event, Mapping) else None
    if order is None:
        raise RunError(
            "EARLIER_EXPORTS needs an event that names one image (image_id), not a fleet or an SMN body"
        )
    control = target.control

    def plant(deployment: LocalDeployment) -> None:  # once the deployment's settings are known
        from ims_export.settings import Settings

        settings = Settings.from_env({**os.environ, **deployment.environment})
        check_earlier_exports_pattern(settings.export_object_pattern)
        planted = plant_earlier_exports(control, order, settings, count=count)
        say(
            sys.stderr,
            f"emulator: {counted(len(planted), 'earlier export')} of image {order.image_id} put into OBS, "
            f"oldest first: {', '.join(planted)}",
        )
        if not settings.retention_count:
            say(
                sys.stderr,
                "emulator: retention is off (RETENTION_COUNT is 0), so they all stay; "
                f"make run EARLIER_EXPORTS={count} RETENTION_COUNT=2 shows it deleting all but the newest 2",
            )

    return plant
