"""The sample catalog every emulator starts with, under fixed ids that tests and docs can name.

| Constant              | Image                                | Export outcome                          |
|-----------------------|--------------------------------------|-----------------------------------------|
| DEBIAN_SMALL          | debian-12-web, 2 GiB                 | SUCCESS                                 |
| CENTOS_APP_BASE       | app-server-base (CentOS), 8 GiB      | SUCCESS                                 |
| ROCKY_DB              | rocky-9-db, 20 GiB                   | SUCCESS                                 |
| ALMA_BUILD_LARGE      | alma-9-build, 40 GiB                 | SUCCESS                                 |
| QUEUED                | nightly-build (queued), 6 GiB        | IMG.0046 until active (1)               |
| FAILING               | flaky-export-test, 4 GiB             | job ends FAIL (ExportFailure defaults)  |
| LARGE_PLAIN           | data-archive, 200 GiB                | quick export only, else IMG.0160        |
| ENCRYPTED_LARGE       | encrypted-data, 200 GiB, KMS         | IMG.0160; quick export refused (IMG.0071) |
| HUGE                  | warehouse, 1100 GiB                  | IMG.0071 (>= 1 TB)                      |
| FULL_ECS              | full-ecs-backup (whole image)        | IMG.0128                                |
| ISO                   | installer-iso (IsoImage)             | IMG.0071                                |
| WINDOWS_DERIVED       | win-2022-custom (from GOLD_WINDOWS)  | IMG.0071                                |
| FROM_BACKUP           | restored-from-cbr                    | IMG.0080                                |
| CHARGED               | marketplace-derived (__productcode)  | IMG.0079                                |
| SHARED                | shared-by-partner (other owner)      | IMG.0047                                |
| GOLD_LINUX / GOLD_WINDOWS | public images                    | IMG.0077                                |

(1) queued, saving after half of ``EmulatorConfig.image_activation_seconds``, then active.
"""

from __future__ import annotations

import uuid
from typing import Any

from localdev.emulator.clock import iso_seconds
from localdev.emulator.model import GIB, EmulatedImage, ExportFailure

GOLD_LINUX = "d21026cc-7064-4e0c-92f3-f61000f3b13f"
GOLD_WINDOWS = "6946c59e-cfde-40d5-a1df-7a0b7a56a469"
DEBIAN_SMALL = "2542e7a1-52a3-4693-bd2a-4efae19ef09f"
CENTOS_APP_BASE = "cd55ebb0-cb4e-4c32-951d-54f0f6bd6621"
ROCKY_DB = "07f809c9-d7f7-4d5b-95db-83adb5f35f9d"
ALMA_BUILD_LARGE = "218a5395-8f7a-45eb-bdee-7df2f3dc2724"
QUEUED = "78deb6a7-2b03-4bb2-b4c4-7e6918797a41"
FAILING = "a335ab7a-2699-4172-863d-c50b8adc3b64"
LARGE_PLAIN = "681182a4-bbb4-45f7-80be-664656a0b5e0"
ENCRYPTED_LARGE = "223c9b0b-d1e5-4c70-b7f6-fcfb9e4fd9e8"
HUGE = "66c020e9-987a-4c35-a42f-f2d300170752"
FULL_ECS = "5c28c8e0-e790-4b55-bc1b-f3302486b33a"
ISO = "327f98a6-476e-449c-b41f-eb29026cda7b"
WINDOWS_DERIVED = "eeab0b0d-2a0b-4385-99a0-99714a2fa98e"
FROM_BACKUP = "084ee565-3573-453f-97e9-8e99c2aff235"
CHARGED = "93c25919-dd55-4a2b-b03e-068976c7a09e"
SHARED = "a18d762f-11bc-4fef-9353-6aca8ad1430a"

# Buckets beside the configured ones, each breaking one of the target's rules (a pre-flight refuses them):
# cold storage (the procedure wants Standard) and another region than the image's (IMG.0058).
ARCHIVE_BUCKET = "ims-export-archive"
OTHER_REGION_BUCKET = "ims-export-eu-nl"
OTHER_REGION = "eu-nl"
PARTNER_PROJECT_ID = "f00dfacef00dfacef00dfacef00dface"
# The project that owns public images.
PUBLIC_OWNER_ID = "1bed856811654c1cb661a6ca845ebc77"
KMS_KEY_ID = "bae59efa-f4bc-4d6a-aba6-c49001e325f2"

# Images whose export is accepted and succeeds (FAILING is accepted too, then its job fails).
EXPORTABLE = (DEBIAN_SMALL, CENTOS_APP_BASE, ROCKY_DB, ALMA_BUILD_LARGE)
_FLEET_NAMESPACE = uuid.UUID("0f6a4c38-63a9-4a0e-9d0b-2f1c8d6e7a55")
_FLEET_SIZES_GIB = (2, 4, 8, 12, 20, 40)


def image_record(
    *,
    image_id: str,
    name: str,
    owner: str,
    created_at: float,
    size_bytes: int,
    status: str = "active",
    imagetype: str = "private",
    platform: str = "CentOS",
    os_version: str = "CentOS 7.9 64bit",
    os_type: str = "Linux",
    parent: str = GOLD_LINUX,
    **overrides: Any,
) -> dict[str, Any]:
    """An image as ``GET /v2/cloudimages`` lists it: strings for booleans and for ``__image_size``."""
    visibility = {"gold": "public", "shared": "shared"}.get(imagetype, "private")
    stamp = iso_seconds(created_at)
    record: dict[str, Any] = {
        "id": image_id,
        "name": name,
        "status": status,
        "visibility": visibility,
        "owner": owner,
        "protected": "true" if imagetype == "gold" else "false",
        "container_format": "bare",
        "disk_format": "zvhd2",
        "min_disk": max(1, -(-size_bytes // GIB)),
        "min_ram": 0,
        "size": None,
        "checksum": "d41d8cd98f00b204e9800998ecf8427e",
        "created_at": stamp,
        "updated_at": stamp,
        "self": f"/v2/images/{image_id}",
        "file": f"/v2/images/{image_id}/file",
        "schema": "/v2/schemas/image",
        "tags": [],
        "__imagetype": imagetype,
        "__image_size": str(size_bytes),
        "__os_type": os_type,
        "__platform": platform,
        "__os_version": os_version,
        "__os_bit": "64",
        "__whole_image": "false",
        "virtual_env_type": "FusionCompute",
        "__originalimagename": "" if imagetype == "gold" else parent,
        "__backup_id": "",
        "__data_origin": "" if imagetype == "gold" else f"instance,{uuid.uuid5(_FLEET_NAMESPACE, image_id)}",
        "__image_source_type": "uds",
        "__isregistered": "true",
        "__lazyloading": "true",
        "__support_kvm": "true",
        "__support_xen": "false",
        "hw_firmware_type": "bios",
        "__description": "",
    }
    if status == "active":
        record["active_at"] = stamp
    record.update(overrides)
    return record


def default_images(project_id: str, now: float, activation_seconds: float) -> list[EmulatedImage]:
    """The sample catalog, newest first: one hour apart, the newest a minute before ``now``."""

    def created(rank: int) -> float:
        return now - 60 - 3600 * rank

    def private(rank: int, image_id: str, name: str, size_gib: float, **fields: Any) -> dict[str, Any]:
        return image_record(
            image_id=image_id,
            name=name,
            owner=project_id,
            created_at=created(rank),
            size_bytes=int(size_gib * GIB),
            **fields,
        )

    images = [
        EmulatedImage(
            private(
                0,
                QUEUED,
                "nightly-build",
                6,
                status="queued",
                os_version="Debian GNU/Linux 12 64bit",
                platform="Debian",
            ),
            saving_at=now + activation_seconds / 2,
            activate_at=now + activation_seconds,
        ),
        EmulatedImage(
            private(
                1,
                DEBIAN_SMALL,
                "debian-12-web",
                2,
                platform="Debian",
                os_version="Debian GNU/Linux 12 64bit",
                tags=["env=prod", "team=web"],
            )
        ),
        EmulatedImage(private(2, CENTOS_APP_BASE, "app-server-base", 8, tags=["env=test"])),
        EmulatedImage(
            private(
                3,
                ROCKY_DB,
                "rocky-9-db",
                20,
                platform="Rocky",
                os_version="Rocky Linux 9.3 64bit",
                tags=["env=prod", "team=db"],
            )
        ),
        EmulatedImage(
            private(
                4,
                ALMA_BUILD_LARGE,
                "alma-9-build",
                40,
                platform="AlmaLinux",
                os_version="AlmaLinux 9.3 64bit",
            )
        ),
        EmulatedImage(private(5, FAILING, "flaky-export-test", 4), export_failure=ExportFailure()),
        EmulatedImage(private(6, LARGE_PLAIN, "data-archive", 200)),
        EmulatedImage(private(7, ENCRYPTED_LARGE, "encrypted-data", 200, __system__cmkid=KMS_KEY_ID)),
        EmulatedImage(private(8, HUGE, "warehouse", 1100)),
        EmulatedImage(private(9, FULL_ECS, "full-ecs-backup", 40, __whole_image="true")),
        EmulatedImage(
            private(
                10,
                ISO,
                "installer-iso",
                1,
                virtual_env_type="IsoImage",
                disk_format="iso",
                __originalimagename="",
                __root_origin="file",
            )
        ),
        EmulatedImage(
            private(
                11,
                WINDOWS_DERIVED,
                "win-2022-custom",
                40,
                platform="Windows",
                os_type="Windows",
                os_version="Windows Server 2022 Standard 64bit",
                parent=GOLD_WINDOWS,
            )
        ),
        EmulatedImage(
            private(
                12, FROM_BACKUP, "restored-from-cbr", 10, __backup_id="c0ffee00-1234-4abc-8def-0123456789ab"
            )
        ),
        EmulatedImage(private(13, CHARGED, "marketplace-derived", 10, __productcode="00301-123456-0--0")),
        EmulatedImage(
            image_record(
                image_id=SHARED,
                name="shared-by-partner",
                owner=PARTNER_PROJECT_ID,
                created_at=created(14),
                size_bytes=5 * GIB,
                imagetype="shared",
            )
        ),
        EmulatedImage(
            image_record(
                image_id=GOLD_LINUX,
                name="Standard_CentOS_7_latest",
                owner=PUBLIC_OWNER_ID,
                created_at=created(15),
                size_bytes=4 * GIB,
                imagetype="gold",
            )
        ),
        EmulatedImage(
            image_record(
                image_id=GOLD_WINDOWS,
                name="Enterprise_Windows_STD_2022_latest",
                owner=PUBLIC_OWNER_ID,
                created_at=created(16),
                size_bytes=40 * GIB,
                imagetype="gold",
                platform="Windows",
                os_type="Windows",
                os_version="Windows Server 2022 Standard 64bit",
            )
        ),
    ]
    return images


def fleet_image_id(index: int) -> str:
    """The fixed id of the ``index``-th generated image (0-based)."""
    return str(uuid.uuid5(_FLEET_NAMESPACE, f"fleet-{index}"))


def generate_exportable_images(
    project_id: str, count: int, now: float, first_index: int = 0
) -> list[EmulatedImage]:
    """``count`` more exportable Linux images (2-40 GiB), for fleet tests; ids are deterministic."""
    images = []
    for index in range(first_index, first_index + count):
        size_gib = _FLEET_SIZES_GIB[index % len(_FLEET_SIZES_GIB)]
        record = image_record(
            image_id=fleet_image_id(index),
            name=f"fleet-{index:04d}",
            owner=project_id,
            created_at=now - 30 - index,
            size_bytes=size_gib * GIB,
            tags=["fleet=true"],
        )
        images.append(EmulatedImage(record))
    return images
