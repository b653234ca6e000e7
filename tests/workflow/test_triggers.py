from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ims_export.domain.export_request import FileFormat
from ims_export.errors import ConfigurationError, InvalidRequestError
from ims_export.settings import Settings
from ims_export.triggers.events import event_kind
from ims_export.triggers.orders import build_export_request, normalize_event, order_named_by
from localdev.emulator import seed
from tests.workflow.fakes import BUCKET, IMAGE_ID, make_settings

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
EXPORTABLE_SEED_IMAGES = {seed.DEBIAN_SMALL, seed.CENTOS_APP_BASE, seed.ROCKY_DB, seed.ALMA_BUILD_LARGE}


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda path: path.name)
def test_every_sample_event_is_understood(path: Path) -> None:
    order = normalize_event(json.loads(path.read_text(encoding="utf-8")), make_settings())
    # The samples name images the built-in emulator has, so that `make run EVENT=...` works on each;
    # the failing sample names the one whose export job fails.
    expected = {seed.FAILING} if "failing" in path.stem else EXPORTABLE_SEED_IMAGES
    assert order.image_id in expected


def test_sample_events_cover_every_trigger() -> None:
    kinds = {
        normalize_event(load_event(path.name), make_settings()).trigger for path in EVENTS.glob("*.json")
    }
    assert kinds == {"manual", "schedule", "image_created_event", "cts_event"}


def test_manual_event_keeps_its_explicit_choices() -> None:
    order = normalize_event(load_event("manual.json"), make_settings())
    request = build_export_request(order, image_name="ignored", settings=make_settings(), now=NOW)
    assert request.bucket_url == "ims-export-demo:exports/manual-export.qcow2"
    assert request.file_format is FileFormat.QCOW2


def test_missing_bucket_and_format_come_from_settings() -> None:
    settings = make_settings(
        export_file_format="vmdk", export_object_pattern="img/{image_name}_{date}.{format}"
    )
    order = normalize_event({"image_id": IMAGE_ID}, settings)
    request = build_export_request(order, image_name="web server #1", settings=settings, now=NOW)
    assert request.bucket_url == f"{BUCKET}:img/web-server-1_20261127.vmdk"
    assert request.file_format is FileFormat.VMDK
    assert not request.is_quick_export


def test_quick_export_has_no_format_and_a_zvhd2_name() -> None:
    scheduled_event = {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "detail": {"image_id": IMAGE_ID, "is_quick_export": True},
    }
    order = normalize_event(scheduled_event, make_settings())
    request = build_export_request(order, image_name="big", settings=make_settings(), now=NOW)
    assert request.is_quick_export
    assert request.file_format is None
    assert request.bucket_url.endswith(".zvhd2")
    assert request.api_body() == {"bucket_url": request.bucket_url, "is_quick_export": True}


def test_cts_trace_nested_under_cts_is_understood() -> None:
    event = load_event("image-created-cts.json")
    event["detail"] = {"cts": event["detail"]}
    assert normalize_event(event, make_settings()).trigger == "cts_event"


def test_cts_image_id_from_the_response_when_resource_id_is_absent() -> None:
    event = load_event("image-created-cts.json")
    del event["detail"]["resource_id"]
    assert normalize_event(event, make_settings()).image_id == seed.ROCKY_DB


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = load_event("image-created-cts.json")
    event["detail"].update(changes)
    return event


SECRET = "hunter2-SECRET"


@pytest.mark.parametrize(
    "event",
    [
        pytest.param([IMAGE_ID], id="not-an-object"),
        pytest.param("image", id="a-string"),
        pytest.param({}, id="empty"),
        pytest.param({"image_id": "not-a-uuid"}, id="bad-image-id"),
        pytest.param({"image_id": IMAGE_ID, "bucket": "typo"}, id="unknown-field"),
        pytest.param({"image_id": IMAGE_ID, "file_format": "raw"}, id="unsupported-format"),
        pytest.param({"image_id": IMAGE_ID, "bucket_url": "no-colon"}, id="bucket-url-without-object"),
        pytest.param({"image_id": IMAGE_ID, "bucket_url": "b:a b.qcow2"}, id="space-in-object"),
        pytest.param(
            {"image_id": IMAGE_ID, "is_quick_export": True, "file_format": "vhd"}, id="quick-with-format"
        ),
        pytest.param({"image_id": IMAGE_ID, "password": SECRET}, id="secret-not-echoed"),
        pytest.param({"trigger": "schedule"}, id="schedule-without-image"),
        pytest.param(
            {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, id="empty-schedule"
        ),
        pytest.param(
            {"detail-type": "Image Created", "source": "x", "detail": {"name": "x"}}, id="no-image-in-detail"
        ),
        pytest.param(_event(trace_name="deleteImage"), id="cts-other-operation"),
        pytest.param(_event(trace_rating="warning"), id="cts-failed-trace"),
        pytest.param(_event(resource_id=None, response="{}"), id="cts-without-image-id"),
    ],
)
def test_events_not_understood_are_invalid_requests(event: Any) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        normalize_event(event, make_settings())
    assert SECRET not in str(raised.value)


def test_no_bucket_anywhere_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match="no default export bucket"):
        normalize_event({"image_id": IMAGE_ID}, make_settings(export_bucket=None))


def test_a_bad_default_pattern_is_refused_when_the_settings_are_read() -> None:
    with pytest.raises(ConfigurationError, match=r"EXPORT_OBJECT_PATTERN: .*unknown placeholders"):
        Settings.from_env({"EXPORT_OBJECT_PATTERN": "{unknown}.{format}"})


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ({"smn_body": "{}", "resume": {}, "image_id": IMAGE_ID}, "smn"),  # an SMN delivery first
        ({"resume": {"ticket": "t"}, "image_id": IMAGE_ID}, "resume"),  # then a continuation
        ({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}, "scheduled_event"),
        ({"detail-type": "x", "source": "y", "detail": {"trace_name": "createImage"}}, "cts_event"),
        (
            {"detail-type": "Image Created", "source": "y", "detail": {"image_id": IMAGE_ID}},
            "image_created_event",
        ),
        ({"trigger": "schedule", "image_id": IMAGE_ID}, "schedule"),
        ({"image_id": IMAGE_ID}, "manual"),
        ([], None),
        (None, None),
    ],
)
def test_the_shape_of_an_input_is_decided_in_one_place(event: Any, kind: str | None) -> None:
    assert event_kind(event) == kind


def test_the_order_an_event_names_is_read_without_settings_or_checks() -> None:
    conflicting = {"image_id": IMAGE_ID, "file_format": "vhd", "is_quick_export": True}  # refused later
    order = order_named_by(conflicting)
    assert order is not None
    assert (order.image_id, order.is_quick_export) == (IMAGE_ID, True)
    assert order_named_by({"image_id": "nope"}) is None
    assert order_named_by({"smn_body": json.dumps({"image_id": IMAGE_ID})}) is None  # not verified
    assert order_named_by({"resume": {"ticket": "t"}}) is None


def test_an_upper_case_image_id_is_the_same_image_and_the_same_export() -> None:
    # One image, one spelling: otherwise 5B4C... and 5b4c... would be two exports and two duplicate claims.
    upper = normalize_event({"image_id": IMAGE_ID.upper()}, make_settings())
    lower = normalize_event({"image_id": IMAGE_ID}, make_settings())

    assert upper.image_id == lower.image_id == IMAGE_ID


def test_an_image_id_that_is_no_uuid_is_refused_in_words() -> None:
    with pytest.raises(InvalidRequestError) as refused:
        normalize_event({"image_id": "not-an-image"}, make_settings())

    assert "must be an image id: a UUID such as" in refused.value.message
    assert "^[0-9a-f" not in refused.value.message  # no regular expression
