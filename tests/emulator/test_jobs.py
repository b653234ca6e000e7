"""GET /v1/{project_id}/jobs/{job_id} and the progress API: documented shape and life cycle."""

from __future__ import annotations

import re

import pytest

from localdev.emulator import Emulator, EmulatorConfig, ManualClock, seed
from localdev.emulator.model import GIB
from tests import documented_examples
from tests.emulator.conftest import CloudClient, assert_ims_error, assert_unauthorized

# The documented example answer of an export job (IMS, "Querying the Status of an Asynchronous Job").
DOCUMENTED_EXAMPLE = documented_examples.JOB_RESPONSE
UTC_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _start(client: CloudClient, image_id: str = seed.ALMA_BUILD_LARGE, name: str = "x.qcow2") -> str:
    response = client.export(image_id, bucket_url=f"ims-export-demo:{name}", file_format="qcow2")
    assert response.status_code == 200, response.text
    return str(response.json()["job_id"])


def test_job_has_the_documented_fields_and_types(client: CloudClient, clock: ManualClock) -> None:
    job_id = _start(client, seed.DEBIAN_SMALL)
    clock.advance(3600)
    job = client.job(job_id).json()

    assert set(job) == set(DOCUMENTED_EXAMPLE)
    assert job["job_id"] == job_id
    assert job["job_type"] == DOCUMENTED_EXAMPLE["job_type"]
    assert job["status"] == "SUCCESS"
    assert job["error_code"] is None and job["fail_reason"] is None
    assert UTC_MILLIS.match(job["begin_time"]) and UTC_MILLIS.match(job["end_time"])
    assert job["entities"]["image_id"] == seed.DEBIAN_SMALL
    assert job["entities"]["image_name"] == "debian-12-web"
    assert job["entities"]["process_percent"] == 100.0


def test_life_cycle_init_then_running_with_rising_percent_then_success(
    client: CloudClient, emulator: Emulator, clock: ManualClock
) -> None:
    job_id = _start(client)  # 40 GiB at 64 MiB/s: 640 s after 10 s of INIT
    first = client.job(job_id).json()
    assert first["status"] == "INIT"
    assert first["end_time"] is None

    percents = []
    for _ in range(6):
        clock.advance(100)
        job = client.job(job_id).json()
        assert job["status"] == "RUNNING"
        assert job["end_time"] is None
        percents.append(job["entities"]["process_percent"])
    assert percents == sorted(percents) and len(set(percents)) == len(percents)
    assert 0 < percents[0] < percents[-1] < 100
    assert emulator.control.bucket_objects("ims-export-demo") == [], "no object before SUCCESS"

    clock.advance(100)
    done = client.job(job_id).json()
    assert done["status"] == "SUCCESS"
    assert done["entities"]["process_percent"] == 100.0
    assert emulator.control.bucket_objects("ims-export-demo") == ["x.qcow2"]


def test_doomed_image_ends_in_fail_with_code_and_reason(
    client: CloudClient, emulator: Emulator, clock: ManualClock
) -> None:
    job_id = _start(client, seed.FAILING)
    clock.advance(20)
    assert client.job(job_id).json()["status"] == "RUNNING"
    clock.advance(3600)
    job = client.job(job_id).json()

    assert job["status"] == "FAIL"
    assert job["error_code"] == "IMG.0500"
    assert job["fail_reason"]
    assert job["end_time"] is not None
    assert 0 < job["entities"]["process_percent"] < 100
    assert emulator.control.bucket_objects("ims-export-demo") == []


def test_failure_is_configurable_per_image(
    client: CloudClient, emulator: Emulator, clock: ManualClock
) -> None:
    emulator.control.fail_exports_of(seed.ROCKY_DB, "IMG.0999", "bucket went away", at_fraction=0.9)
    job_id = _start(client, seed.ROCKY_DB)
    clock.advance(3600)
    job = client.job(job_id).json()
    assert (job["status"], job["error_code"], job["fail_reason"]) == ("FAIL", "IMG.0999", "bucket went away")
    assert job["entities"]["process_percent"] == 90.0


def test_duration_grows_with_image_size_at_the_configured_speed(clock: ManualClock) -> None:
    config = EmulatorConfig(export_bytes_per_second=GIB / 100, job_init_seconds=0, min_export_seconds=0)
    with Emulator(config, clock) as emulator:
        client = CloudClient(emulator)
        client.login()
        small = _start(client, seed.DEBIAN_SMALL, "small.qcow2")  # 2 GiB: 200 s
        large = _start(client, seed.ALMA_BUILD_LARGE, "large.qcow2")  # 40 GiB: 4000 s
        clock.advance(199)
        assert client.job(small).json()["status"] == "RUNNING"
        clock.advance(1)
        assert client.job(small).json()["status"] == "SUCCESS"
        assert client.job(large).json()["entities"]["process_percent"] == 5.0
        clock.advance(3800)
        assert client.job(large).json()["status"] == "SUCCESS"


def test_progress_api_answers_the_same_shape(client: CloudClient, clock: ManualClock) -> None:
    job_id = _start(client)
    clock.advance(200)
    assert client.progress(job_id).json() == client.job(job_id).json()


@pytest.mark.parametrize("query", ["job", "progress"])
def test_unknown_job_gets_404_with_an_ims_body(client: CloudClient, query: str) -> None:
    response = client.job("0" * 32) if query == "job" else client.progress("0" * 32)
    assert_ims_error(response, "IMG.0404", status=404)


def test_job_under_another_project_id_is_refused(client: CloudClient) -> None:
    job_id = _start(client)
    assert_unauthorized(client.job(job_id, project_id=seed.PARTNER_PROJECT_ID))
