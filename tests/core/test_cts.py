"""CTS traces: which ones announce a new image, and where its id is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ims_export.triggers.cts import image_id_from_trace, is_image_created_trace

IMAGE_ID = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"
OTHER_ID = "1ab4df10-fe18-48b7-91c9-53695fcd9df5"


def trace(**fields: Any) -> dict[str, Any]:
    return {
        "trace_name": "createImage",
        "trace_rating": "normal",
        "service_type": "IMS",
        "resource_type": "ims",
        "resource_id": IMAGE_ID,
        **fields,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"resource_type": "image"},
        {"resource_type": "IMAGE"},
        {"service_type": "ims"},
        {"trace_rating": None, "trace_status": "normal"},
        {"trace_rating": None},
    ],
)
def test_successful_create_image_traces(fields: dict[str, Any]) -> None:
    assert is_image_created_trace(trace(**fields))


def test_service_and_resource_type_default_to_ims_image() -> None:
    minimal = {"trace_name": "createImage"}
    assert is_image_created_trace(minimal)


@pytest.mark.parametrize(
    "fields",
    [
        {"trace_rating": "warning"},
        {"trace_rating": "Incident"},
        {"trace_rating": None, "trace_status": "warning"},
        {"trace_name": "exportImage"},
        {"trace_name": "deleteImage"},
        {"trace_name": None},
        {"service_type": "ECS"},
        {"resource_type": "server"},
    ],
)
def test_other_traces_are_not_image_creations(fields: dict[str, Any]) -> None:
    assert not is_image_created_trace(trace(**fields))


def test_image_id_from_resource_id() -> None:
    assert image_id_from_trace(trace()) == IMAGE_ID


@pytest.mark.parametrize(
    "response",
    [
        {"status": "SUCCESS", "entities": {"image_id": OTHER_ID}, "job_type": "imsCreateImageByInstance"},
        json.dumps({"entities": {"image_id": OTHER_ID}}),
        "  " + json.dumps({"entities": {"image_id": OTHER_ID}}),
    ],
)
def test_image_id_from_the_job_response_when_resource_id_is_absent(response: Any) -> None:
    assert image_id_from_trace(trace(resource_id=None, response=response)) == OTHER_ID


def test_a_resource_id_that_is_not_an_image_id_falls_back_to_the_response() -> None:
    found = image_id_from_trace(trace(resource_id="web-image", response={"entities": {"image_id": OTHER_ID}}))
    assert found == OTHER_ID


@pytest.mark.parametrize(
    "fields",
    [
        {"resource_id": None},
        {"resource_id": "", "response": "{not json"},
        {"resource_id": None, "response": "[1, 2]"},
        {"resource_id": None, "response": {"entities": "image"}},
        {"resource_id": None, "response": {"entities": {"image_id": "../x"}}},
        {"resource_id": f"{IMAGE_ID}\n"},
        {"resource_id": 12},
    ],
)
def test_no_image_id(fields: dict[str, Any]) -> None:
    assert image_id_from_trace(trace(**fields)) is None


@pytest.mark.parametrize("rating", ["warning", "incident", "unknown", "NORMAL-ish"])
def test_only_a_normal_trace_is_an_image_creation(rating: str) -> None:
    # CTS documents normal, warning (failed) and incident: an unknown rating proves no image was created.
    trace = {
        "trace_name": "createImage",
        "service_type": "IMS",
        "resource_type": "image",
        "trace_rating": rating,
    }
    assert not is_image_created_trace(trace)


def test_an_upper_case_image_id_in_a_trace_is_the_image_ims_knows() -> None:
    trace = {"trace_name": "createImage", "resource_id": "5B4C8F0E-3A1D-4E7B-9C2A-1F6D8E9A0B11"}
    assert image_id_from_trace(trace) == "5b4c8f0e-3a1d-4e7b-9c2a-1f6d8e9a0b11"
