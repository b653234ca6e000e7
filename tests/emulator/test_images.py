"""GET /v2/cloudimages: record fields, the filters of "Querying Images", sorting, paging."""

from __future__ import annotations

from typing import Any

import pytest

from localdev.emulator import Emulator, ManualClock, seed
from localdev.emulator.clock import iso_seconds
from tests.emulator.conftest import CloudClient, assert_ims_error


def _ids(client: CloudClient, params: Any = None) -> list[str]:
    response = client.images(params)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"images"}
    return [image["id"] for image in response.json()["images"]]


def test_records_use_the_real_field_names_and_string_types(client: CloudClient) -> None:
    (image,) = client.images({"id": seed.ENCRYPTED_LARGE}).json()["images"]

    assert image["__image_size"] == str(200 * 1024**3)
    assert image["__whole_image"] == "false"
    assert image["__imagetype"] == "private"
    assert image["__system__cmkid"] == seed.KMS_KEY_ID
    assert image["status"] == "active"
    for field in ("name", "owner", "visibility", "__platform", "__os_type", "created_at", "min_disk"):
        assert field in image
    assert image["owner"] == client.emulator.project_id


def test_default_listing_is_newest_first(client: CloudClient) -> None:
    images = client.images().json()["images"]
    created = [image["created_at"] for image in images]
    assert created == sorted(created, reverse=True)
    assert images[0]["id"] == seed.QUEUED
    assert {seed.GOLD_LINUX, seed.SHARED} <= {image["id"] for image in images}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"id": seed.ROCKY_DB}, [seed.ROCKY_DB]),
        ({"name": "rocky-9-db"}, [seed.ROCKY_DB]),
        ({"name": "rocky"}, []),
        ({"__imagetype": "gold"}, [seed.GOLD_LINUX, seed.GOLD_WINDOWS]),
        ({"visibility": "shared"}, [seed.SHARED]),
        ({"owner": seed.PUBLIC_OWNER_ID}, [seed.GOLD_LINUX, seed.GOLD_WINDOWS]),
        ({"status": "queued"}, [seed.QUEUED]),
        ({"__whole_image": "true"}, [seed.FULL_ECS]),
        ({"__whole_image": "True"}, [seed.FULL_ECS]),
        ({"virtual_env_type": "IsoImage"}, [seed.ISO]),
        ({"__os_type": "Windows"}, [seed.WINDOWS_DERIVED, seed.GOLD_WINDOWS]),
        ({"__platform": "Rocky"}, [seed.ROCKY_DB]),
        ({"tag": "team=db"}, [seed.ROCKY_DB]),
        ([("tag", "env=prod"), ("tag", "team=web")], [seed.DEBIAN_SMALL]),
        ({"__imagetype": "private", "__platform": "Windows"}, [seed.WINDOWS_DERIVED]),
    ],
)
def test_filters(client: CloudClient, params: Any, expected: list[str]) -> None:
    assert _ids(client, params) == expected


def test_created_at_filter_with_operators(client: CloudClient, clock: ManualClock) -> None:
    # The seed spaces images one hour apart, the newest a minute before the clock's start.
    cutoff = iso_seconds(clock.now() - 60 - 2 * 3600)
    newer = _ids(client, {"created_at": f"gt:{cutoff}"})
    at_or_newer = _ids(client, {"created_at": f"gte:{cutoff}"})
    exactly = _ids(client, {"created_at": f"eq:{cutoff}"})

    assert newer == [seed.QUEUED, seed.DEBIAN_SMALL]
    assert at_or_newer == [*newer, seed.CENTOS_APP_BASE]
    assert exactly == [seed.CENTOS_APP_BASE]
    assert seed.CENTOS_APP_BASE not in _ids(client, {"created_at": f"neq:{cutoff}"})
    assert _ids(client, {"created_at": f"lt:{cutoff}"})[0] == seed.ROCKY_DB
    assert _ids(client, {"created_at": f"lte:{cutoff}"})[0] == seed.CENTOS_APP_BASE


@pytest.mark.parametrize(
    "params",
    [
        {"__image_type": "private"},
        {"created_at": "after:2025-01-01T00:00:00Z"},
        {"created_at": "gt:yesterday"},
        {"limit": "0"},
        {"limit": "ten"},
        {"marker": "00000000-0000-0000-0000-000000000000"},
        {"sort_key": "size"},
        {"sort_dir": "up"},
    ],
)
def test_bad_queries_get_img_0001(client: CloudClient, params: dict[str, str]) -> None:
    assert_ims_error(client.images(params), "IMG.0001")


def test_marker_paging_walks_every_image_once(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.generate_images(23)
    everything = _ids(client)
    pages, marker = [], None
    while True:
        params = {"limit": "5", **({"marker": marker} if marker else {})}
        page = _ids(client, params)
        pages.append(page)
        if len(page) < 5:
            break
        marker = page[-1]

    walked = [image_id for page in pages for image_id in page]
    assert walked == everything
    assert len(set(walked)) == len(walked) == len(emulator.state.images)


def test_default_limit_is_500(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.generate_images(520)
    first = _ids(client)
    assert len(first) == 500
    assert len(_ids(client, {"limit": "1000"})) == 500, "the limit is capped at 500"
    rest = _ids(client, {"marker": first[-1]})
    assert len(first) + len(rest) == len(emulator.state.images)


def test_generated_images_are_exportable_and_have_fixed_ids(client: CloudClient, emulator: Emulator) -> None:
    ids = emulator.control.generate_images(3)
    more = emulator.control.generate_images(2)

    assert ids == [seed.fleet_image_id(index) for index in range(3)]
    assert more == [seed.fleet_image_id(index) for index in (3, 4)]
    for image_id in ids + more:
        assert client.export(image_id, bucket_url=f"ims-export-demo:{image_id}.qcow2").status_code == 200


def test_queued_image_is_saving_then_active_after_the_configured_delay(
    client: CloudClient, emulator: Emulator, clock: ManualClock
) -> None:
    delay = emulator.config.image_activation_seconds

    def status() -> str:
        return str(client.images({"id": seed.QUEUED}).json()["images"][0]["status"])

    assert status() == "queued"
    clock.advance(delay / 2)
    assert status() == "saving"
    clock.advance(delay / 2 - 1)
    assert status() == "saving"
    clock.advance(1)
    assert status() == "active"
    assert client.images({"id": seed.QUEUED}).json()["images"][0]["active_at"] == iso_seconds(clock.now())
