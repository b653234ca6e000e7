"""The notification's side of waking exports (``steps.wake`` has the waiting export's rules): an authentic
OBS notification of created objects becomes one wake per object, which the state machine delivers to the
export waiting under that object's record, if there is one (``WakeExports``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from ims_export.settings import Settings
from ims_export.steps.contract import Phase
from ims_export.steps.job_state import ObjectNotice
from ims_export.steps.wake import RECORD_MARGIN_SECONDS, wake_record_id

if TYPE_CHECKING:
    from ims_export.domain.obs_notifications import ObjectCreated
    from ims_export.smn.delivery import SmnOutcome

# The objects of one notification woken at most (OBS sends one a message; the state stays far below 256 KB).
MAX_WAKES = 10


class Wake(BaseModel):
    """One created object of an OBS notification: the record a waiting export's token would be under,
    and the notice it is sent."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    table: str
    record_id: str
    notice: ObjectNotice
    seen_expires_at: str = Field(pattern=r"^[0-9]{1,12}$")  # until when the record remembers the notice


class Waking(BaseModel):
    """An authentic OBS notification of created objects: the state machine wakes the export waiting for
    each, if there is one, and ends (``NotificationHandled``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    phase: Literal[Phase.WAKING] = Phase.WAKING
    topic_urn: str
    message_id: str
    wakes: list[Wake] = Field(min_length=1, max_length=MAX_WAKES)
    detail: str = ""


def wakes_of(outcome: SmnOutcome, settings: Settings, table: str, *, now: datetime) -> list[Wake]:
    """One wake per distinct created object of a verified OBS notification, at most ``MAX_WAKES``."""
    seen_until = str(int(now.timestamp()) + settings.wake_max_wait_seconds + RECORD_MARGIN_SECONDS)
    wakes: dict[str, Wake] = {}
    for item in outcome.created:
        record_id = wake_record_id(item.bucket, item.key)
        if record_id not in wakes and len(wakes) < MAX_WAKES:
            notice = notice_of(item, outcome.message_id)
            wakes[record_id] = Wake(
                table=table, record_id=record_id, notice=notice, seen_expires_at=seen_until
            )
    return list(wakes.values())


def notice_of(created: ObjectCreated, message_id: str) -> ObjectNotice:
    return ObjectNotice(
        bucket=created.bucket,
        key=created.key,
        event_name=created.event_name,
        event_time=created.event_time,
        message_id=message_id,
    )
