"""Strict input: JSON booleans only, typed envelopes, sane times; any JSON value as the execution input
ends in a named refusal with an outcome, never States.Runtime."""

from __future__ import annotations

from typing import Any

import pytest

from ims_export.errors import InvalidRequestError
from ims_export.triggers.orders import normalize_event
from localdev.stepfunctions import LocalWorkflow
from tests.reliability.test_duplicates import IMAGE_CREATED
from tests.workflow.conftest import BUS
from tests.workflow.fakes import BUCKET, IMAGE_ID, FakeIms, make_settings

MANUAL = {"image_id": IMAGE_ID, "bucket_url": f"{BUCKET}:exports/x.qcow2", "file_format": "qcow2"}
CTS: dict[str, Any] = {
    **IMAGE_CREATED,
    "source": "ims-export.cts",
    "detail": {"trace_name": "createImage", "service_type": "IMS", "resource_id": IMAGE_ID},
}


@pytest.mark.parametrize("flag", ["yes", "1", "TRUE", "on", 1.0, 1, "no", "0", "off", 0.0, 0, None])
def test_is_quick_export_is_a_json_boolean(flag: Any) -> None:
    with pytest.raises(InvalidRequestError):
        normalize_event({"image_id": IMAGE_ID, "is_quick_export": flag}, make_settings())
    with pytest.raises(InvalidRequestError):
        normalize_event(
            {**IMAGE_CREATED, "detail": {"image_id": IMAGE_ID, "is_quick_export": flag}}, make_settings()
        )


def test_json_booleans_are_accepted() -> None:
    assert normalize_event({"image_id": IMAGE_ID, "is_quick_export": True}, make_settings()).is_quick_export


@pytest.mark.parametrize(
    "event",
    [
        {**CTS, "detail": {**CTS["detail"], "trace_name": ["createImage"]}},
        {**CTS, "detail": {**CTS["detail"], "trace_name": {"name": "createImage"}}},
        {**CTS, "detail": {**CTS["detail"], "service_type": ["IMS"]}},
        {**CTS, "detail": {"cts": {**CTS["detail"], "trace_rating": 5}}},
        {**IMAGE_CREATED, "time": 1795767400},
        {**IMAGE_CREATED, "time": "9999-12-31T23:59:59+14:00"},
        {**IMAGE_CREATED, "time": "0001-01-01T00:00:00-14:00"},
        {**IMAGE_CREATED, "id": 17},
        {**IMAGE_CREATED, "account": 123456789012},
        {**IMAGE_CREATED, "resources": "arn"},
        {**IMAGE_CREATED, "source": ["ims-export.images"]},
    ],
    ids=[
        "trace-name-list",
        "trace-name-object",
        "service-type-list",
        "rating-number",
        "time-number",
        "time-far-future",
        "time-far-past",
        "id-number",
        "account-number",
        "resources-string",
        "source-list",
    ],
)
def test_wrong_types_anywhere_in_an_envelope_are_an_invalid_request(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        normalize_event(event, make_settings())


def test_a_far_future_schedule_time_only_informs_the_name_and_never_overflows() -> None:
    schedule = {"trigger": "schedule", "image_id": IMAGE_ID, "scheduled_time": "9999-12-31T23:59:59+14:00"}
    assert normalize_event(schedule, make_settings()).requested_at is None


@pytest.mark.slow
@pytest.mark.parametrize("execution_input", [[], "abc", 42, None, True, [MANUAL]], ids=repr)
def test_any_json_value_as_the_execution_input_is_a_named_refusal_with_an_outcome(
    workflow: LocalWorkflow, fake_ims: FakeIms, execution_input: Any
) -> None:
    result = workflow.wait_for(workflow.start_execution(execution_input))

    assert result.status == "FAILED"
    assert result.error == "InvalidRequestError"
    [published] = workflow.published_events(BUS)
    assert published["detail"]["error"] == "InvalidRequestError"
    assert fake_ims.calls == []
