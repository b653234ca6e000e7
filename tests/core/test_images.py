"""The image model: IMS sends booleans and sizes as strings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ims_export.domain.images import GIB, Image, ImageStatus


def image(**fields: Any) -> Image:
    return Image.model_validate({"id": "d164b5df-1bc3-4c3f-893e-3e471fd16e64", "status": "active", **fields})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("True", True),
        (" TRUE ", True),
        (True, True),
        ("false", False),
        ("", False),
        (None, False),
        (False, False),
    ],
)
def test_whole_image_string_booleans(value: Any, expected: bool) -> None:
    assert image(__whole_image=value).whole_image is expected


def test_sizes_are_parsed_from_strings() -> None:
    parsed = image(__image_size="1073741824", min_disk="40")
    assert (parsed.image_size_bytes, parsed.min_disk_gb) == (GIB, 40)


@pytest.mark.parametrize(
    ("image_size", "min_disk", "expected"),
    [("1073741824", 40, 40 * GIB), (str(300 * GIB), 40, 300 * GIB), ("", None, 0), (None, 2, 2 * GIB)],
)
def test_size_bytes_is_the_larger_of_image_size_and_min_disk(
    image_size: str | None, min_disk: int | None, expected: int
) -> None:
    assert image(__image_size=image_size, min_disk=min_disk).size_bytes == expected


def test_a_non_numeric_size_fails() -> None:
    with pytest.raises(ValidationError):
        image(__image_size="big")


def test_blank_strings_mean_unset() -> None:
    parsed = image(
        __system__cmkid="", __backup_id="", __productcode="", __originalimagename="", __platform=""
    )
    assert parsed.system_cmkid is parsed.backup_id is parsed.product_code is None
    assert parsed.original_image_name is parsed.platform is None
    assert not parsed.encrypted
    assert image(__system__cmkid="key-1").encrypted


@pytest.mark.parametrize(
    ("platform", "restricted"),
    [
        ("Windows", True),
        ("SUSE", True),
        ("Red Hat", True),
        ("RedHat", True),
        ("Ubuntu", True),
        ("Oracle Linux", True),
        ("CentOS", False),
        ("Debian", False),
        ("OpenSUSE", False),
        (None, False),
    ],
)
def test_restricted_platforms(platform: str | None, restricted: bool) -> None:
    assert image(__platform=platform).restricted_platform is restricted


@pytest.mark.parametrize(
    ("status", "pending"), [("queued", True), ("saving", True), ("active", False), ("killed", False)]
)
def test_pending_statuses(status: str, pending: bool) -> None:
    assert image(status=status).status.pending is pending
    assert image(status=status).status is ImageStatus(status)


def test_an_unknown_status_fails() -> None:
    with pytest.raises(ValidationError):
        image(status="frozen")


def test_aliases_and_unknown_fields() -> None:
    parsed = image(__imagetype="private", __os_bit="64", __support_kvm="true")
    assert parsed.imagetype == "private"
    assert parsed.model_extra == {"__os_bit": "64", "__support_kvm": "true"}
