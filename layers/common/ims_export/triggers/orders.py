"""From an accepted trigger to an export order (the image, the target and the delivery id), checked against
the settings, and from an order to the export request the POST sends."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
)

from ims_export.domain.export_request import (
    ExportRequest,
    FileFormat,
    ImageId,
    check_bucket_name,
    split_bucket_url,
)
from ims_export.domain.naming import QUICK_EXPORT_EXTENSION, pattern_fields, render_object_name
from ims_export.errors import ConfigurationError, InvalidRequestError
from ims_export.parsing import parse_model
from ims_export.settings import Settings
from ims_export.triggers.cts import image_id_from_trace, trace_id
from ims_export.triggers.events import (
    CtsTraceEvent,
    DeliveryId,
    EventBridgeEnvelope,
    ImageChoice,
    ImageCreatedEvent,
    ManualInput,
    ScheduledEvent,
    ScheduleInput,
    TriggerEvent,
    TriggerKind,
    event_kind,
    event_time_in_range,
)


class ExportOrder(BaseModel):
    """A trigger, normalized: the image and the caller's explicit choices (defaults applied later)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger: TriggerKind
    image_id: ImageId
    bucket_url: str | None = None
    file_format: FileFormat | None = None
    is_quick_export: StrictBool = False
    # The trigger's own time, when it has one. Default object names are rendered at this time, so a
    # duplicate delivery names the same object -- and is recognised as the same export.
    requested_at: datetime | None = None
    # Who delivered it and under which id ("eventbridge:<id>", "cts:<trace id>", "smn:<message id>").
    delivery_id: DeliveryId | None = None


def _parsed_time(value: str | None) -> datetime | None:
    """A schedule's time (it only informs the object name): None for an unsubstituted placeholder or
    anything out of range, and then the time of the start step counts."""
    try:
        return event_time_in_range(datetime.fromisoformat(value)) if value else None
    except ValueError:
        return None


def _eventbridge_delivery(event: EventBridgeEnvelope) -> str | None:
    return f"eventbridge:{event.id}" if event.id else None


def _order_from(trigger: BaseModel) -> ExportOrder:
    if isinstance(trigger, CtsTraceEvent):
        traced = trace_id(trigger.trace)
        return parse_model(
            ExportOrder,
            {
                "trigger": "cts_event",
                "image_id": image_id_from_trace(trigger.trace) or "",
                "requested_at": trigger.time,
                # The same trace may reach us in two events: the trace id names the delivery.
                "delivery_id": f"cts:{traced}" if traced else _eventbridge_delivery(trigger),
            },
        )
    requested_at: datetime | None = None
    delivery: str | None = None
    if isinstance(trigger, ManualInput):
        choice: ImageChoice = trigger
        kind: TriggerKind = "manual"
    elif isinstance(trigger, ScheduleInput):
        choice, kind, requested_at = trigger, "schedule", _parsed_time(trigger.scheduled_time)
    elif isinstance(trigger, ScheduledEvent):
        choice, kind, requested_at = trigger.detail, "scheduled_event", trigger.time
        delivery = _eventbridge_delivery(trigger)
    elif isinstance(trigger, ImageCreatedEvent):
        choice, kind, requested_at = trigger.detail, "image_created_event", trigger.time
        delivery = _eventbridge_delivery(trigger)
    else:  # pragma: no cover - the union above is exhaustive
        raise InvalidRequestError("unsupported trigger")
    return ExportOrder(
        trigger=kind,
        requested_at=requested_at,
        delivery_id=delivery,
        **choice.model_dump(include=set(ImageChoice.model_fields)),
    )


def smn_order(image_id: str, settings: Settings, *, message_id: str) -> ExportOrder:
    """The order for an image an authenticated SMN createImage notification names."""
    order = {"trigger": "smn_notification", "image_id": image_id, "delivery_id": f"smn:{message_id}"}
    return check_order(parse_model(ExportOrder, order), settings)


def check_order(order: ExportOrder, settings: Settings) -> ExportOrder:
    """Refuse now what would be refused after calling IMS: no target, conflicting format options."""
    check_export_options(
        file_format=order.file_format,
        is_quick_export=order.is_quick_export,
        bucket_url=order.bucket_url,
        settings=settings,
    )
    return order


def check_export_options(
    *, file_format: str | None, is_quick_export: bool, bucket_url: str | None, settings: Settings
) -> None:
    """The order's checks that need no image: format options, and the target (given or configured)."""
    if is_quick_export and file_format is not None:
        raise InvalidRequestError(
            "file_format cannot be given with is_quick_export (quick export writes ZVHD2)",
            code="QuickExportWithFormat",
        )
    if bucket_url is not None:
        split_bucket_url(bucket_url)
        return
    if not settings.export_bucket:
        raise InvalidRequestError(
            "the event has no bucket_url and no default export bucket is configured", code="MissingBucketUrl"
        )
    try:
        check_bucket_name(settings.export_bucket)
    except InvalidRequestError as error:
        raise ConfigurationError(f"default export bucket: {error.message}", code=error.code) from None
    pattern_fields(settings.export_object_pattern)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else type(value).__name__


def normalize_event(event: Any, settings: Settings) -> ExportOrder:
    """The export order an event asks for; InvalidRequestError for anything not understood."""
    if not isinstance(event, Mapping):
        raise InvalidRequestError(
            f"the execution input is a JSON {_json_type(event)}, not an object: give an object such as "
            '{"image_id": "<image id>"} (see events/manual.json) or an EventBridge event',
            code="InputNotAnObject",
        )
    trigger = parse_model(TriggerEvent, event).root
    return check_order(_order_from(trigger), settings)


def order_named_by(event: Any) -> ExportOrder | None:
    """The order a trigger names, read without settings or any call (for an outcome that must name
    the image and target of a refused or failed start); None when the event names none."""
    if event_kind(event) in (None, "smn", "resume"):
        return None  # an SMN body names an image only once verified; a resume names none
    try:
        return _order_from(parse_model(TriggerEvent, event).root)
    except InvalidRequestError:
        return None


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment


def build_export_request(
    order: ExportOrder, *, image_name: str, settings: Settings, now: datetime
) -> ExportRequest:
    """The request to send: the order's explicit choices, else the configured defaults.

    A default object name is rendered at the order's own time if it has one, else at ``now``.
    """
    file_format = None if order.is_quick_export else (order.file_format or settings.export_file_format)
    bucket_url = order.bucket_url
    if bucket_url is None:
        extension = file_format.value if file_format is not None else QUICK_EXPORT_EXTENSION
        object_name = render_object_name(
            settings.export_object_pattern,
            image_name=image_name,
            image_id=order.image_id,
            extension=extension,
            now=_in_utc(order.requested_at or now),
        )
        bucket_url = f"{settings.export_bucket}:{object_name}"
    return parse_model(
        ExportRequest,
        {
            "image_id": order.image_id,
            "bucket_url": bucket_url,
            "file_format": file_format,
            "is_quick_export": order.is_quick_export,
        },
    )
