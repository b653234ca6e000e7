"""The HTTP control API under /_emulator/, as a test drives a standalone emulator."""

from __future__ import annotations

import pytest

from localdev.emulator import Emulator, ManualClock, seed
from tests.emulator.conftest import CloudClient, assert_unauthorized

QCOW2 = {"bucket_url": "ims-export-demo:c.qcow2", "file_format": "qcow2"}


def test_health_and_counters(client: CloudClient) -> None:
    assert client.control("GET", "/health").json() == {"status": "ok"}
    client.images()
    counters = client.control("GET", "/counters").json()
    assert counters["requests"]["image_list"] == 1
    assert counters["tokens_issued"] == 1
    assert client.control("POST", "/counters/reset").status_code == 200
    assert client.control("GET", "/counters").json()["tokens_issued"] == 0


def test_clock_advance_drives_a_job_to_success(client: CloudClient, clock: ManualClock) -> None:
    job_id = client.export(seed.DEBIAN_SMALL, QCOW2).json()["job_id"]
    before = client.control("GET", "/clock").json()
    assert before["manual"] is True

    after = client.control("POST", "/clock/advance", {"seconds": 3600}).json()

    assert after["now"] == before["now"] + 3600 == clock.now()
    assert client.job(job_id).json()["status"] == "SUCCESS"
    job = client.control("GET", f"/jobs/{job_id}").json()
    assert (job["bucket"], job["object_name"], job["status"]) == ("ims-export-demo", "c.qcow2", "SUCCESS")
    assert client.control("GET", "/buckets/ims-export-demo").json()["objects"] == ["c.qcow2"]
    assert [job["job_id"] for job in client.control("GET", "/jobs").json()["jobs"]] == [job_id]


def test_scaled_clock_cannot_be_advanced() -> None:
    with Emulator(speed=50) as emulator:
        response = CloudClient(emulator).control("POST", "/clock/advance", {"seconds": 1})
        assert response.status_code == 400
        assert "cannot be advanced" in response.json()["error"]


def test_faults_over_http(client: CloudClient) -> None:
    response = client.control(
        "POST", "/faults", {"route": "image_list", "kind": "throttled", "times": 2, "retry_after_seconds": 4}
    )
    assert response.json() == {"pending": {"image_list": 2}}
    first = client.images()
    assert (first.status_code, first.headers["Retry-After"]) == (429, "4")
    assert client.control("DELETE", "/faults").status_code == 200
    assert client.images().status_code == 200
    assert client.control("POST", "/faults", {"route": "image_list", "kind": "nope"}).status_code == 400


def test_tokens_and_user_over_http(client: CloudClient) -> None:
    assert client.control("POST", "/tokens/expire", {"token": client.token}).json() == {"count": 1}
    assert_unauthorized(client.images())
    client.login()
    assert client.control("POST", "/tokens/revoke", {}).json() == {"count": 2}
    assert_unauthorized(client.images())
    assert client.control("POST", "/tokens/revoke", {"token": "MIIunknown"}).status_code == 404

    client.control("POST", "/user", {"locked": True})
    assert client.issue_token().json()["error_code"] == "IAM.0061"


def test_buckets_and_objects_over_http(client: CloudClient) -> None:
    client.control("POST", "/buckets", {"name": "second-bucket"})
    target = {**QCOW2, "bucket_url": "second-bucket:pre/existing.qcow2"}
    assert client.export(seed.DEBIAN_SMALL, target).status_code == 200

    client.control("POST", "/buckets/second-bucket/objects", {"name": "taken.qcow2"})
    taken = {**QCOW2, "bucket_url": "second-bucket:taken.qcow2"}
    assert client.export(seed.ROCKY_DB, taken).json()["error"]["code"] == "IMG.0070"
    assert client.control("GET", "/buckets/unknown-bucket").status_code == 404


def test_images_over_http(client: CloudClient, clock: ManualClock) -> None:
    added = client.control(
        "POST",
        "/images",
        {"name": "late-image", "status": "queued", "activate_after_seconds": 30, "fields": {"tags": ["a=b"]}},
    ).json()["image_id"]
    assert client.control("GET", f"/images/{added}").json()["status"] == "queued"
    clock.advance(30)
    assert client.images({"tag": "a=b"}).json()["images"][0]["status"] == "active"

    generated = client.control("POST", "/images/generate", {"count": 3}).json()["image_ids"]
    assert generated == [seed.fleet_image_id(index) for index in range(3)]

    client.control(
        "POST",
        f"/images/{generated[0]}/export-failure",
        {"error_code": "IMG.0777", "fail_reason": "disk full"},
    )
    job_id = client.export(generated[0], QCOW2).json()["job_id"]
    clock.advance(3600)
    assert client.job(job_id).json()["error_code"] == "IMG.0777"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nothing-here", 404),
        ("PUT", "/faults", 405),
        ("GET", "/images/not-an-image", 404),
    ],
)
def test_unknown_control_calls(client: CloudClient, method: str, path: str, status: int) -> None:
    assert client.control(method, path).status_code == status
