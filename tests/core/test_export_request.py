"""ExportRequest refuses what IMS would refuse, before any call: bucket names, object names, formats."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ims_export.domain.export_request import (
    ExportRequest,
    FileFormat,
    check_bucket_name,
    check_object_name,
    split_bucket_url,
)
from ims_export.errors import InvalidRequestError
from ims_export.parsing import parse_model

IMAGE_ID = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"


def export_data(**changes: Any) -> dict[str, Any]:
    return {
        "image_id": IMAGE_ID,
        "bucket_url": "ims-image:centos7_5.qcow2",
        "file_format": "qcow2",
        **changes,
    }


@pytest.mark.parametrize("bucket", ["abc", "ims-image", "my.bucket.v2", "a1b", "0bucket9", "b" * 63])
def test_valid_bucket_names(bucket: str) -> None:
    assert check_bucket_name(bucket) == bucket


@pytest.mark.parametrize(
    "bucket",
    [
        "ab",
        "b" * 64,
        "Bucket",
        "-bucket",
        "bucket-",
        ".bucket",
        "bucket.",
        "my..bucket",
        "my.-bucket",
        "my-.bucket",
        "my_bucket",
        "my bucket",
        "192.168.1.10",
        "bucket\n",
        "bücket",
        "",
    ],
)
def test_invalid_bucket_names(bucket: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        check_bucket_name(bucket)
    assert raised.value.code == "InvalidBucketName"


@pytest.mark.parametrize(
    "name",
    [
        "image.qcow2",
        "exports/2025/web-1_2.qcow2",
        "a",
        "x" * 128,
        "folder/.hidden",
        "v1.2.3...vmdk",
        "a-b_c.d",
    ],
)
def test_valid_object_names(name: str) -> None:
    assert check_object_name(name) == name


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", "IMG.0073"),
        ("x" * 129, "IMG.0074"),
        ("my image.qcow2", "IMG.0175"),
        ("my folder/image.qcow2", "IMG.0175"),
        (" image.qcow2", "IMG.0175"),
        ("image.qcow2 ", "IMG.0175"),
        ("../etc/passwd", "IMG.0075"),
        ("exports/../../secret", "IMG.0075"),
        ("./image.qcow2", "IMG.0075"),
        ("/absolute.qcow2", "IMG.0075"),
        ("a//b.qcow2", "IMG.0075"),
        ("folder/", "IMG.0075"),
        ("..", "IMG.0075"),
        ("a;rm-rf.qcow2", "IMG.0075"),
        ("$(reboot).qcow2", "IMG.0075"),
        ("`id`.qcow2", "IMG.0075"),
        ("a|b.qcow2", "IMG.0075"),
        ("a&b.qcow2", "IMG.0075"),
        ("a\nb.qcow2", "IMG.0075"),
        ("image.qcow2\n", "IMG.0075"),
        ("a\x00b.qcow2", "IMG.0075"),
        ("a\\b.qcow2", "IMG.0075"),
        ("%2e%2e/x.qcow2", "IMG.0075"),
        ("ümlaut.qcow2", "IMG.0075"),
        ("a:b.qcow2", "IMG.0075"),
        ("<script>.qcow2", "IMG.0075"),
    ],
)
def test_invalid_object_names_carry_the_ims_code(name: str, code: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        check_object_name(name)
    assert raised.value.code == code


def test_split_bucket_url() -> None:
    assert split_bucket_url("ims-image:exports/web.qcow2") == ("ims-image", "exports/web.qcow2")
    with pytest.raises(InvalidRequestError) as raised:
        split_bucket_url("ims-image/web.qcow2")
    assert raised.value.code == "InvalidBucketUrl"


def test_the_documented_request_body() -> None:
    request = ExportRequest.model_validate(export_data())
    assert request.api_body() == {"bucket_url": "ims-image:centos7_5.qcow2", "file_format": "qcow2"}
    assert request.file_format is FileFormat.QCOW2


@pytest.mark.parametrize("file_format", ["qcow2", "vhd", "zvhd", "vmdk"])
def test_every_documented_format_is_accepted(file_format: str) -> None:
    assert ExportRequest.model_validate(export_data(file_format=file_format)).api_body()["file_format"] == (
        file_format
    )


def test_quick_export_body_has_no_file_format() -> None:
    request = ExportRequest.model_validate(export_data(file_format=None, is_quick_export=True))
    assert request.api_body() == {"bucket_url": "ims-image:centos7_5.qcow2", "is_quick_export": True}


def test_quick_export_forbids_a_file_format() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        ExportRequest.model_validate(export_data(is_quick_export=True))
    assert raised.value.code == "QuickExportWithFormat"


def test_a_missing_format_is_refused_unless_quick_export() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        ExportRequest.model_validate(export_data(file_format=None))
    assert raised.value.code == "MissingFileFormat"


@pytest.mark.parametrize("file_format", ["raw", "QCOW2", "zvhd2", ""])
def test_an_undocumented_format_is_refused(file_format: str) -> None:
    with pytest.raises(InvalidRequestError, match="file_format"):
        parse_model(ExportRequest, export_data(file_format=file_format))


@pytest.mark.parametrize(
    "image_id",
    [
        "d164b5df1bc34c3f893e3e471fd16e64",
        "d164b5df-1bc3-4c3f-893e-3e471fd16e6",
        "d164b5df-1bc3-4c3f-893e-3e471fd16e64\n",
        " d164b5df-1bc3-4c3f-893e-3e471fd16e64",
        "g164b5df-1bc3-4c3f-893e-3e471fd16e64",
        "../d164b5df-1bc3-4c3f-893e-3e471fd16e64",
        "",
    ],
)
def test_the_image_id_must_be_a_uuid(image_id: str) -> None:
    with pytest.raises(InvalidRequestError, match="image_id"):
        parse_model(ExportRequest, export_data(image_id=image_id))


def test_object_name_rules_apply_through_parse_model() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_model(ExportRequest, export_data(bucket_url="ims-image:../x.qcow2"))
    assert raised.value.code == "IMG.0075"


def test_unknown_fields_are_refused_and_the_request_is_frozen() -> None:
    with pytest.raises(InvalidRequestError, match="overwrite"):
        parse_model(ExportRequest, export_data(overwrite=True))
    request = ExportRequest.model_validate(export_data())
    with pytest.raises(ValidationError):
        request.bucket_url = "other:x.qcow2"  # type: ignore[misc]
