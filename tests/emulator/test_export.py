"""POST /v1/cloudimages/{image_id}/file: the documented example and every documented refusal."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from localdev.emulator import Emulator, EmulatorConfig, ManualClock, seed
from tests import documented_examples
from tests.emulator.conftest import CloudClient, assert_ims_error

QCOW2 = {"bucket_url": "ims-export-demo:exports/image.qcow2", "file_format": "qcow2"}
QUICK = {"bucket_url": "ims-export-demo:exports/image.zvhd2", "is_quick_export": True}


def test_documented_example_request_gets_the_documented_response(
    client: CloudClient, emulator: Emulator
) -> None:
    # IMS API reference, "Exporting an Image": the example body, verbatim, against its bucket name.
    body = documented_examples.EXPORT_REQUEST_BODY
    response = client.export(seed.DEBIAN_SMALL, body)

    assert response.status_code == 200
    assert set(response.json()) == {"job_id"}
    assert re.fullmatch(r"[0-9a-f]{32}", response.json()["job_id"])
    assert emulator.control.export_jobs(seed.DEBIAN_SMALL) == 1


@pytest.mark.parametrize("file_format", ["qcow2", "vhd", "zvhd", "vmdk"])
def test_every_documented_format_is_accepted(client: CloudClient, file_format: str) -> None:
    response = client.export(
        seed.CENTOS_APP_BASE, bucket_url=f"ims-export-demo:x.{file_format}", file_format=file_format
    )
    assert response.status_code == 200


def test_quick_export_without_file_format_is_accepted_for_a_large_image(client: CloudClient) -> None:
    assert client.export(seed.LARGE_PLAIN, QUICK).status_code == 200


def test_windows_image_not_derived_from_a_public_image_can_be_exported(
    client: CloudClient, emulator: Emulator
) -> None:
    image_id = emulator.control.add_image(
        "imported-windows", platform="Windows", os_type="Windows", __originalimagename=""
    )
    assert client.export(image_id, QCOW2).status_code == 200


REFUSALS: list[tuple[str, str, dict[str, Any], str]] = [
    ("unknown image", str(uuid.UUID(int=7)), QCOW2, "IMG.0027"),
    ("public image", seed.GOLD_LINUX, QCOW2, "IMG.0077"),
    ("public windows image", seed.GOLD_WINDOWS, QCOW2, "IMG.0077"),
    ("not the owner", seed.SHARED, QCOW2, "IMG.0047"),
    ("full-ECS image", seed.FULL_ECS, QCOW2, "IMG.0128"),
    ("ISO image", seed.ISO, QCOW2, "IMG.0071"),
    ("from a backup", seed.FROM_BACKUP, QCOW2, "IMG.0080"),
    ("charged image", seed.CHARGED, QCOW2, "IMG.0079"),
    ("derived from a public windows image", seed.WINDOWS_DERIVED, QCOW2, "IMG.0071"),
    ("1 TB or more", seed.HUGE, QUICK, "IMG.0071"),
    ("over 128 GB without quick export", seed.LARGE_PLAIN, QCOW2, "IMG.0160"),
    ("encrypted over 128 GB", seed.ENCRYPTED_LARGE, QCOW2, "IMG.0160"),
    ("quick export of an encrypted image", seed.ENCRYPTED_LARGE, QUICK, "IMG.0071"),
    ("image not active yet", seed.QUEUED, QCOW2, "IMG.0046"),
    ("unsupported format", seed.DEBIAN_SMALL, {**QCOW2, "file_format": "raw"}, "IMG.0072"),
    ("format in upper case", seed.DEBIAN_SMALL, {**QCOW2, "file_format": "QCOW2"}, "IMG.0072"),
    ("empty bucket name", seed.DEBIAN_SMALL, {**QCOW2, "bucket_url": ":x.qcow2"}, "IMG.0068"),
    ("unknown bucket", seed.DEBIAN_SMALL, {**QCOW2, "bucket_url": "no-such-bucket:x.qcow2"}, "IMG.0069"),
    ("bad bucket characters", seed.DEBIAN_SMALL, {**QCOW2, "bucket_url": "Bad_Bucket:x.qcow2"}, "IMG.0109"),
    ("empty file name", seed.DEBIAN_SMALL, {**QCOW2, "bucket_url": "ims-export-demo:"}, "IMG.0073"),
    ("no separator", seed.DEBIAN_SMALL, {**QCOW2, "bucket_url": "ims-export-demo"}, "IMG.0073"),
    (
        "file name too long",
        seed.DEBIAN_SMALL,
        {**QCOW2, "bucket_url": "ims-export-demo:" + "a" * 129},
        "IMG.0074",
    ),
    (
        "bad file characters",
        seed.DEBIAN_SMALL,
        {**QCOW2, "bucket_url": "ims-export-demo:a*b.qcow2"},
        "IMG.0075",
    ),
    ("empty folder", seed.DEBIAN_SMALL, {**QCOW2, "bucket_url": "ims-export-demo:a//b.qcow2"}, "IMG.0075"),
    ("dot-dot folder", seed.DEBIAN_SMALL, {**QCOW2, "bucket_url": "ims-export-demo:../b.qcow2"}, "IMG.0075"),
    (
        "space in a name",
        seed.DEBIAN_SMALL,
        {**QCOW2, "bucket_url": "ims-export-demo:my dir/b.qcow2"},
        "IMG.0175",
    ),
    ("quick export with a format", seed.LARGE_PLAIN, {**QUICK, "file_format": "qcow2"}, "IMG.0001"),
    ("no format and no quick export", seed.DEBIAN_SMALL, {"bucket_url": QCOW2["bucket_url"]}, "IMG.0001"),
    ("no bucket_url", seed.DEBIAN_SMALL, {"file_format": "qcow2"}, "IMG.0001"),
    ("is_quick_export not a boolean", seed.DEBIAN_SMALL, {**QUICK, "is_quick_export": "true"}, "IMG.0001"),
    ("unknown field", seed.DEBIAN_SMALL, {**QCOW2, "fileFormat": "qcow2"}, "IMG.0001"),
    ("body not an object", seed.DEBIAN_SMALL, ["ims-export-demo:x"], "IMG.0001"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(
    ("image_id", "body", "code"),
    [refusal[1:] for refusal in REFUSALS],
    ids=[refusal[0] for refusal in REFUSALS],
)
def test_refusals_carry_the_documented_code_and_start_nothing(
    client: CloudClient, emulator: Emulator, image_id: str, body: Any, code: str
) -> None:
    response = client.export(image_id, body)

    assert_ims_error(response, code)
    assert emulator.control.export_jobs() == 0
    assert emulator.control.jobs() == []


def test_body_that_is_not_json_gets_img_0001(client: CloudClient, emulator: Emulator) -> None:
    response = client.session.post(
        f"{emulator.base_url}/v1/cloudimages/{seed.DEBIAN_SMALL}/file",
        data=b"bucket_url=ims-export-demo:x",
        headers={"X-Auth-Token": client.token or ""},
        timeout=5,
    )
    assert_ims_error(response, "IMG.0001")


def test_quick_export_with_a_format_says_why(client: CloudClient) -> None:
    response = client.export(seed.LARGE_PLAIN, {**QUICK, "file_format": "qcow2"})
    assert "is_quick_export" in response.json()["error"]["message"]


def test_bucket_in_another_region_gets_img_0058(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.register_bucket("nl-exports", region="eu-nl")
    response = client.export(seed.DEBIAN_SMALL, {**QCOW2, "bucket_url": "nl-exports:x.qcow2"})
    assert_ims_error(response, "IMG.0058")


def test_private_image_of_another_project_is_unknown(client: CloudClient, emulator: Emulator) -> None:
    image_id = emulator.control.add_image("someone-elses", owner=seed.PARTNER_PROJECT_ID)
    assert_ims_error(client.export(image_id, QCOW2), "IMG.0027")


def test_queued_image_becomes_exportable_once_active(
    client: CloudClient, emulator: Emulator, clock: ManualClock
) -> None:
    assert_ims_error(client.export(seed.QUEUED, QCOW2), "IMG.0046")
    clock.advance(emulator.config.image_activation_seconds)
    assert client.export(seed.QUEUED, QCOW2).status_code == 200


def test_img_0148_while_the_image_is_being_exported(
    client: CloudClient, emulator: Emulator, clock: ManualClock
) -> None:
    assert client.export(seed.ROCKY_DB, QCOW2).status_code == 200
    clock.advance(60)  # RUNNING by now
    other_target = {**QCOW2, "bucket_url": "ims-export-demo:other.qcow2"}

    assert_ims_error(client.export(seed.ROCKY_DB, other_target), "IMG.0148")
    assert emulator.control.export_jobs(seed.ROCKY_DB) == 1
    assert client.export(seed.DEBIAN_SMALL, other_target).status_code == 200, "other images still export"


def test_img_0070_once_a_finished_export_wrote_the_object(
    client: CloudClient, emulator: Emulator, clock: ManualClock
) -> None:
    assert client.export(seed.DEBIAN_SMALL, QCOW2).status_code == 200
    clock.advance(3600)
    assert emulator.control.bucket_objects("ims-export-demo") == ["exports/image.qcow2"]

    assert_ims_error(client.export(seed.DEBIAN_SMALL, QCOW2), "IMG.0070")
    assert_ims_error(client.export(seed.CENTOS_APP_BASE, QCOW2), "IMG.0070")
    other = {**QCOW2, "bucket_url": "ims-export-demo:exports/again.qcow2"}
    assert client.export(seed.DEBIAN_SMALL, other).status_code == 200


def test_img_0070_for_an_object_that_was_there_before(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.put_object("ims-export-demo", "exports/image.qcow2")
    assert_ims_error(client.export(seed.DEBIAN_SMALL, QCOW2), "IMG.0070")


def test_failed_export_writes_nothing_and_can_be_retried(
    client: CloudClient, emulator: Emulator, clock: ManualClock
) -> None:
    assert client.export(seed.FAILING, QCOW2).status_code == 200
    clock.advance(3600)
    assert emulator.control.bucket_objects("ims-export-demo") == []
    assert client.export(seed.FAILING, QCOW2).status_code == 200
    assert emulator.control.export_jobs(seed.FAILING) == 2


def test_flow_control_limit_gives_img_0060(clock: ManualClock) -> None:
    with Emulator(EmulatorConfig(max_running_exports=1), clock) as emulator:
        client = CloudClient(emulator)
        client.login()
        assert client.export(seed.DEBIAN_SMALL, QCOW2).status_code == 200
        other = {**QCOW2, "bucket_url": "ims-export-demo:other.qcow2"}
        assert_ims_error(client.export(seed.ROCKY_DB, other), "IMG.0060")
        clock.advance(3600)
        assert client.export(seed.ROCKY_DB, other).status_code == 200
