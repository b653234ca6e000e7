"""The exportability pre-check refuses, with the IMS code and a human reason, what IMS would refuse."""

from __future__ import annotations

from typing import Any

import pytest

from ims_export.domain.export_request import ExportRequest
from ims_export.domain.exportability import check_exportable, parent_image_id_to_check
from ims_export.domain.images import GIB, Image
from ims_export.errors import ImageNotExportableError, ImageNotReadyError, InvalidRequestError, TransientError

PROJECT_ID = "0123456789abcdef0123456789abcdef"
IMAGE_ID = "d164b5df-1bc3-4c3f-893e-3e471fd16e64"
PARENT_ID = "1ab4df10-fe18-48b7-91c9-53695fcd9df5"


def image(**fields: Any) -> Image:
    values: dict[str, Any] = {
        "id": IMAGE_ID,
        "name": "web-server",
        "status": "active",
        "owner": PROJECT_ID,
        "__imagetype": "private",
        "__image_size": str(10 * GIB),
        "min_disk": 40,
        "__platform": "CentOS",
        "__whole_image": "false",
        "virtual_env_type": "FusionCompute",
    }
    values.update(fields)
    return Image.model_validate({key: value for key, value in values.items() if value is not None})


def request(*, quick: bool = False) -> ExportRequest:
    if quick:
        return ExportRequest(image_id=IMAGE_ID, bucket_url="exports:web.zvhd2", is_quick_export=True)
    return ExportRequest(image_id=IMAGE_ID, bucket_url="exports:web.qcow2", file_format="qcow2")


def parent(imagetype: str, parent_id: str = PARENT_ID) -> Image:
    return Image.model_validate({"id": parent_id, "status": "active", "__imagetype": imagetype})


BIG = str(200 * GIB)
ONE_TB = str(1024 * GIB)


@pytest.mark.parametrize(
    ("fields", "quick", "code", "reason"),
    [
        ({"__imagetype": "gold"}, False, "IMG.0077", "public image"),
        ({"__imagetype": "shared"}, False, "IMG.0047", "shared image"),
        ({"__imagetype": None}, False, "IMG.0047", "only private images"),
        ({"owner": "fedcba9876543210fedcba9876543210"}, False, "IMG.0047", "another project"),
        ({"owner": None}, False, "IMG.0047", "another project"),
        ({"status": "deleted"}, False, "IMG.0046", "deleted"),
        ({"status": "killed"}, False, "IMG.0046", "killed"),
        ({"__whole_image": "true"}, False, "IMG.0128", "full-ECS"),
        ({"virtual_env_type": "IsoImage"}, False, "IMG.0071", "ISO"),
        ({"__backup_id": "0e5b4a1c-0000-4000-8000-000000000001"}, False, "IMG.0080", "backup"),
        ({"__productcode": "00301-123456-0--0"}, False, "IMG.0079", "charged or marketplace"),
        ({"__image_size": ONE_TB}, True, "IMG.0059", "below 1 TB"),
        ({"min_disk": 1024}, True, "IMG.0059", "1024 GB"),
        ({"__image_size": BIG}, False, "IMG.0160", "200 GB"),
        ({"__image_size": BIG}, False, "IMG.0160", "set is_quick_export"),
        ({"__system__cmkid": "kms-key-1"}, True, "IMG.0071", "decrypt"),
        ({"__image_size": BIG, "__system__cmkid": "kms-key-1"}, False, "IMG.0160", "decrypt it first"),
    ],
)
def test_documented_rules_refuse_with_code_and_reason(
    fields: dict[str, Any], quick: bool, code: str, reason: str
) -> None:
    with pytest.raises(ImageNotExportableError) as raised:
        check_exportable(image(**fields), request(quick=quick), project_id=PROJECT_ID)
    assert raised.value.code == code
    assert reason in raised.value.message
    assert IMAGE_ID in raised.value.message
    assert not isinstance(raised.value, TransientError)


@pytest.mark.parametrize(
    ("fields", "quick"),
    [
        ({}, False),
        ({}, True),
        ({"__image_size": str(128 * GIB), "min_disk": 128}, False),  # exactly 128 GB: any export
        ({"__image_size": BIG}, True),
        ({"__image_size": str(1024 * GIB - 1), "min_disk": 1023}, True),
        ({"__system__cmkid": "kms-key-1"}, False),  # encrypted: normal export is fine
        ({"__system__cmkid": "", "__backup_id": "", "__productcode": ""}, True),  # blank is unset
        ({"__whole_image": "False"}, False),
    ],
)
def test_exportable_images_pass(fields: dict[str, Any], quick: bool) -> None:
    check_exportable(image(**fields), request(quick=quick), project_id=PROJECT_ID)


@pytest.mark.parametrize("status", ["queued", "saving"])
def test_an_image_still_being_created_is_not_ready(status: str) -> None:
    with pytest.raises(ImageNotReadyError) as raised:
        check_exportable(image(status=status), request(), project_id=PROJECT_ID)
    assert raised.value.code == "IMG.0046"
    assert status in raised.value.message


def test_what_an_image_is_is_judged_while_it_is_still_pending() -> None:
    with pytest.raises(ImageNotExportableError, match="full-ECS"):
        check_exportable(image(status="saving", __whole_image="true"), request(), project_id=PROJECT_ID)


def test_the_size_is_judged_only_once_the_image_is_active() -> None:
    with pytest.raises(ImageNotReadyError):
        check_exportable(image(status="saving", __image_size=ONE_TB), request(), project_id=PROJECT_ID)


@pytest.mark.parametrize(
    "platform", ["Windows", "SUSE", "Red Hat", "RedHat", "Ubuntu", "Oracle Linux", "windows"]
)
def test_a_private_image_derived_from_a_restricted_public_image_is_refused(platform: str) -> None:
    derived = image(__platform=platform, __originalimagename=PARENT_ID)
    assert parent_image_id_to_check(derived) == PARENT_ID
    with pytest.raises(ImageNotExportableError) as raised:
        check_exportable(derived, request(), project_id=PROJECT_ID, parent=parent("gold"))
    assert raised.value.code == "IMG.0071"
    assert f"public {platform} image {PARENT_ID}" in raised.value.message


def test_a_restricted_platform_derived_from_a_private_parent_passes() -> None:
    derived = image(__platform="Windows", __originalimagename=PARENT_ID)
    check_exportable(derived, request(), project_id=PROJECT_ID, parent=parent("private"))


def test_a_parent_that_is_not_the_images_parent_is_ignored() -> None:
    derived = image(__platform="Windows", __originalimagename=PARENT_ID)
    unrelated = parent("gold", parent_id="00000000-0000-4000-8000-000000000009")
    check_exportable(derived, request(), project_id=PROJECT_ID, parent=unrelated)


def test_without_the_parent_the_server_decides() -> None:
    derived = image(__platform="Windows", __originalimagename=PARENT_ID)
    check_exportable(derived, request(), project_id=PROJECT_ID, parent=None)


def test_an_unrestricted_platform_never_needs_its_parent() -> None:
    derived = image(__platform="CentOS", __originalimagename=PARENT_ID)
    assert parent_image_id_to_check(derived) is None
    check_exportable(derived, request(), project_id=PROJECT_ID, parent=parent("gold"))


@pytest.mark.parametrize("original", [None, "", "windows-2019-from-file"])
def test_no_parent_lookup_without_a_parent_image_id(original: str | None) -> None:
    assert parent_image_id_to_check(image(__platform="Windows", __originalimagename=original)) is None


def test_checking_another_image_than_the_requested_one_is_a_bad_request() -> None:
    other = image(id="00000000-0000-4000-8000-000000000001")
    with pytest.raises(InvalidRequestError):
        check_exportable(other, request(), project_id=PROJECT_ID)
