"""Turn whatever started the state machine into an export order.

Accepted inputs (the state machine's raw execution input):

- a manual invocation: ``{"image_id", "bucket_url"?, "file_format"?, "is_quick_export"?}``;
- an EventBridge event about a new image: ``detail.image_id``, or ``detail`` carrying an OTC CTS
  ``createImage`` trace (the trace itself, or under ``detail.cts``);
- an EventBridge scheduled event (``"detail-type": "Scheduled Event"``) whose ``detail`` names the image;
- an EventBridge Scheduler (ScheduleV2) input: ``{"trigger": "schedule", "image_id", ...}``.

Missing ``bucket_url``/``file_format`` come from Settings. Anything else is an InvalidRequestError, raised
before any call to IMS; messages name fields, never the (possibly huge or secret) values. Types are
strict: booleans are JSON booleans, texts are strings, times are ISO 8601 strings in a sane range.

Each order carries the trigger's delivery identity where it has one (EventBridge event id, CTS trace
id, SMN message id): a redelivery is recognised by it, whatever object name it would render.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StrictBool,
    Tag,
    model_validator,
)

from ims_export.domain.export_request import (
    FileFormat,
    ImageId,
)
from ims_export.triggers.cts import check_trace_types, image_id_from_trace, is_image_created_trace

SCHEDULED_EVENT_DETAIL_TYPE = "Scheduled Event"
TriggerKind = Literal[
    "manual", "schedule", "scheduled_event", "image_created_event", "cts_event", "smn_notification"
]
# What an execution input can be: a trigger (of a kind TriggerEvent parses), a delivery to the SMN
# endpoint ({"smn_body": ...}) or a continuation's {"resume": ...}.
EventKind = Literal[
    "smn", "resume", "manual", "schedule", "scheduled_event", "image_created_event", "cts_event"
]
# Event times outside this range are refused: no real trigger has them, and naming must not overflow.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME = datetime(2200, 1, 1, tzinfo=UTC)
DeliveryId = Annotated[str, Field(min_length=1, max_length=256)]


def _text_only(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")  # never a number of seconds, say
    return value


def event_time_in_range(moment: datetime) -> datetime:
    try:
        in_utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    if not EARLIEST_EVENT_TIME <= in_utc < LATEST_EVENT_TIME:
        raise ValueError("is out of range")
    return in_utc


EventTime = Annotated[datetime, BeforeValidator(_text_only), AfterValidator(event_time_in_range)]


class ImageChoice(BaseModel):
    """The image to export and, optionally, where to and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: ImageId
    bucket_url: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    file_format: FileFormat | None = None
    is_quick_export: StrictBool = False


class ManualInput(ImageChoice):
    trigger: Literal["manual"] = "manual"


class ScheduleInput(ImageChoice):
    """The ``Input`` the template gives its ScheduleV2 schedule (Scheduler delivers it as it is)."""

    # Each trigger's own model is built when first validated (defer_build), the manual one's at import:
    # a cold start validates one kind of trigger (TriggerEvent holds them all).
    model_config = ConfigDict(defer_build=True)

    trigger: Literal["schedule"]
    schedule_arn: str | None = None
    scheduled_time: str | None = None


class EventDetail(ImageChoice):
    # Producers add fields of their own to ``detail``: they are ignored, the known ones validated.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class EventBridgeEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True, defer_build=True)

    detail_type: str = Field(alias="detail-type", max_length=256)
    source: str = Field(max_length=256)
    id: DeliveryId | None = None
    # When the event happened: the same for every delivery of it (see ExportOrder.requested_at).
    time: EventTime | None = None
    version: str | None = None
    account: str | None = None
    region: str | None = None
    resources: list[str] | None = None


class ImageCreatedEvent(EventBridgeEnvelope):
    detail: EventDetail


class ScheduledEvent(EventBridgeEnvelope):
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    detail: EventDetail


class CtsTraceEvent(EventBridgeEnvelope):
    """An event whose ``detail`` is a CTS trace (or holds one under ``cts``)."""

    detail: dict[str, Any]

    @model_validator(mode="after")
    def _created_image(self) -> CtsTraceEvent:
        trace = self.trace
        check_trace_types(trace)
        if not is_image_created_trace(trace):
            raise ValueError("detail is not a successful IMS createImage trace")
        if image_id_from_trace(trace) is None:
            raise ValueError("the createImage trace names no image id")
        return self

    @property
    def trace(self) -> Mapping[str, Any]:
        nested = self.detail.get("cts")
        return nested if isinstance(nested, Mapping) else self.detail


def event_kind(value: Any) -> EventKind | None:
    """What an execution input is, decided by its shape alone (None: not a JSON object).

    The one place that tells the inputs apart: the start step dispatches on it, and its trigger kinds
    discriminate ``TriggerEvent``. A delivery to the SMN endpoint and a continuation's resume input
    come first: neither may be read as a trigger."""
    if not isinstance(value, Mapping):
        return None
    if "smn_body" in value:
        return "smn"
    if "resume" in value:
        return "resume"
    return _trigger_kind(value)


def _trigger_kind(value: Mapping[str, Any]) -> EventKind:
    if "detail-type" in value or "detail" in value:
        if value.get("detail-type") == SCHEDULED_EVENT_DETAIL_TYPE:
            return "scheduled_event"
        detail = value.get("detail")
        if isinstance(detail, Mapping) and ("trace_name" in detail or "cts" in detail):
            return "cts_event"
        return "image_created_event"
    if value.get("trigger") == "schedule":
        return "schedule"
    return "manual"


class TriggerEvent(
    RootModel[
        Annotated[
            Annotated[ManualInput, Tag("manual")]
            | Annotated[ScheduleInput, Tag("schedule")]
            | Annotated[ScheduledEvent, Tag("scheduled_event")]
            | Annotated[ImageCreatedEvent, Tag("image_created_event")]
            | Annotated[CtsTraceEvent, Tag("cts_event")],
            Discriminator(event_kind),
        ]
    ]
):
    """Any accepted trigger; which one is decided by the event's shape."""
