"""One target value and one way of naming an export: every step and message says it the same way."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ims_export.domain.export_request import ExportRequest, ExportTarget, FileFormat, export_subject
from ims_export.errors import ImsExportError, ObjectAlreadyExistsError
from ims_export.steps.claim_records import delivery_key, export_key
from ims_export.steps.job_state import JobState

IMAGE_ID = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def request(**changes: object) -> ExportRequest:
    data: dict[str, object] = {
        "image_id": IMAGE_ID,
        "bucket_url": "ims-image:exports/web.vmdk",
        "file_format": FileFormat.VMDK,
        **changes,
    }
    return ExportRequest.model_validate(data)


def job_of(export: ExportRequest) -> JobState:
    return JobState(
        job_id="job-1",
        image_id=export.image_id,
        image_name="web",
        **export.target.fields(),
        started_at=NOW,
        deadline=NOW,
        max_polls_per_execution=10,
    )


def test_a_request_and_the_job_it_started_name_one_target() -> None:
    export = request()

    target = export.target

    assert target == ExportTarget("ims-image:exports/web.vmdk", "vmdk", False)
    assert (target.bucket, target.object_name, target.format_words) == (
        "ims-image",
        "exports/web.vmdk",
        "vmdk",
    )
    assert job_of(export).target == target


def test_a_quick_export_has_no_format_and_says_what_ims_writes() -> None:
    target = request(file_format=None, is_quick_export=True).target

    assert target.fields() == {
        "bucket_url": "ims-image:exports/web.vmdk",
        "file_format": None,
        "is_quick_export": True,
    }
    assert target.format_words == "ZVHD2 (quick export)"


def test_the_claims_are_keyed_by_the_target_fields() -> None:
    export = request()

    assert export_key(export) == {"image_id": IMAGE_ID, **export.target.fields()}
    assert delivery_key("d-1", export)["bucket"] == export.target.bucket


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ((IMAGE_ID,), f"image {IMAGE_ID}"),
        ((IMAGE_ID, "web"), f"image {IMAGE_ID} (web)"),
        ((IMAGE_ID, "web", "b:o.qcow2"), f"image {IMAGE_ID} (web) to b:o.qcow2"),
        ((IMAGE_ID, None, "b:o.qcow2"), f"image {IMAGE_ID} to b:o.qcow2"),
    ],
)
def test_an_export_is_named_by_what_is_known_of_it(arguments: tuple[str, ...], words: str) -> None:
    assert export_subject(*arguments) == words


def test_the_format_is_named_only_with_a_target() -> None:
    assert export_subject(IMAGE_ID, bucket_url="b:o", file_format="vhd") == f"image {IMAGE_ID} to b:o as vhd"
    assert export_subject(IMAGE_ID, file_format="vhd") == f"image {IMAGE_ID}"


def test_the_job_is_named_as_its_request_would_be() -> None:
    assert job_of(request()).subject == f"image {IMAGE_ID} (web) to ims-image:exports/web.vmdk"


def test_an_error_names_its_export_once_however_often_it_is_told() -> None:
    error = ObjectAlreadyExistsError("the object exists", code="IMG.0070")

    error.naming(f"image {IMAGE_ID}")
    error.naming(f"image {IMAGE_ID}")

    assert str(error) == f"IMG.0070: export of image {IMAGE_ID}: the object exists"
    assert error.args == (error.message,)
    assert isinstance(error, ImsExportError)
