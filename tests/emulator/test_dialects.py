"""The emulator's answer dialects and answer-rewriting faults: the variety of real clouds, on demand."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from localdev.emulator import ControlError, Emulator, ManualClock, seed
from localdev.emulator.tokens import token_payload
from tests.emulator.conftest import CloudClient

LEGACY_TIME = re.compile(r"^\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2}:\d{3}$")


def start(client: CloudClient, image_id: str = seed.ALMA_BUILD_LARGE) -> str:
    response = client.export(image_id, bucket_url="ims-export-demo:exports/dialect.qcow2")
    assert response.status_code == 200, response.text
    body = response.json()
    return str(body.get("job_id") or body.get("jobId"))


def test_the_default_dialect_is_the_documented_example(emulator: Emulator, client: CloudClient) -> None:
    job_id = start(client)
    job = client.job(job_id).json()
    assert set(job) >= {"job_id", "status", "begin_time", "end_time", "entities"}
    assert job["status"] == "INIT"
    assert emulator.control.dialect()["time_format"] == "iso"


def test_older_times_and_placeholders(emulator: Emulator, client: CloudClient, clock: ManualClock) -> None:
    emulator.control.set_dialect(time_format="legacy", running_end_time="N/A")
    job_id = start(client)
    clock.advance(60)
    job = client.job(job_id).json()
    assert LEGACY_TIME.match(job["begin_time"]), job["begin_time"]
    assert job["end_time"] == "N/A"


def test_share_scale_percent_as_text_lower_case_status(
    emulator: Emulator, client: CloudClient, clock: ManualClock
) -> None:
    emulator.control.set_dialect(percent_scale="share", percent_as_text="text", status_case="lower")
    job_id = start(client)
    clock.advance(600)
    job = client.job(job_id).json()
    assert job["status"] == "running"
    assert isinstance(job["entities"]["process_percent"], str)
    assert 0 < float(job["entities"]["process_percent"]) < 1


def test_camel_case_and_entities_as_a_list(emulator: Emulator, client: CloudClient) -> None:
    emulator.control.set_dialect(camel_case=True, entities_as_list=True)
    answer = client.export(seed.ALMA_BUILD_LARGE, bucket_url="ims-export-demo:exports/c.qcow2").json()
    assert set(answer) == {"jobId"}
    job = client.job(answer["jobId"]).json()
    assert {"jobId", "beginTime", "endTime"} <= set(job)
    assert isinstance(job["entities"], list)
    assert job["entities"][0]["imageId"] == seed.ALMA_BUILD_LARGE


@pytest.mark.parametrize("route", ["job", "job_progress"])
def test_a_gone_job_api_answers_the_gateway_404(emulator: Emulator, client: CloudClient, route: str) -> None:
    job_id = start(client)
    emulator.control.set_dialect(gone_job_apis=[route])
    gone, kept = (client.job, client.progress) if route == "job" else (client.progress, client.job)
    missing = gone(job_id)
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "APIGW.0101"
    assert kept(job_id).status_code == 200


def test_catalog_without_image_entry_short_and_skewed_tokens(emulator: Emulator, client: CloudClient) -> None:
    emulator.control.set_dialect(
        catalog_image_entry=False, token_lifetime_seconds=1800, iam_clock_offset_seconds=-3600
    )
    response = client.issue_token()
    token = response.json()["token"]
    assert "image" not in {entry["type"] for entry in token["catalog"]}
    assert token_payload(response.headers["X-Subject-Token"])["token"]["expires_at"] == token["expires_at"]
    # IAM states both times an hour behind its emulated clock; the token still lives 30 minutes.
    issued = datetime.fromisoformat(token["issued_at"].replace("Z", "+00:00")).timestamp()
    expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00")).timestamp()
    assert expires - issued == pytest.approx(1800)
    assert issued == pytest.approx(emulator.control.now() - 3600)


def test_unknown_dialect_fields_and_values_are_refused(emulator: Emulator) -> None:
    with pytest.raises(ControlError, match="unknown"):
        emulator.control.set_dialect(colour="blue")
    with pytest.raises(ControlError, match="time_format"):
        emulator.control.set_dialect(time_format="roman")
    with pytest.raises(ControlError, match="gone_job_apis"):
        emulator.control.set_dialect(gone_job_apis=["export"])


def test_the_dialect_over_the_control_api(client: CloudClient) -> None:
    assert client.control("POST", "/dialect", {"status_case": "lower"}).json()["status_case"] == "lower"
    assert client.control("GET", "/dialect").json()["status_case"] == "lower"
    client.control("DELETE", "/dialect")
    assert client.control("GET", "/dialect").json()["status_case"] == "upper"


@pytest.mark.parametrize(
    ("kind", "content_type", "body"),
    [("html", "text/html", b"<html>"), ("empty", "application/json", b""), ("empty_object", None, b"{}")],
)
def test_one_off_unreadable_job_answers(
    emulator: Emulator, client: CloudClient, kind: str, content_type: str | None, body: bytes
) -> None:
    job_id = start(client)
    emulator.control.inject("job", kind)
    answer = client.job(job_id)
    assert answer.status_code == 200
    assert answer.content.startswith(body)
    if content_type:
        assert answer.headers["Content-Type"] == content_type
    assert client.job(job_id).json()["job_id"] == job_id  # one-off


def test_answer_rewriting_faults(emulator: Emulator, client: CloudClient) -> None:
    emulator.control.inject("export", "html_after_processing")
    page = client.export(seed.ALMA_BUILD_LARGE, bucket_url="ims-export-demo:exports/h.qcow2")
    assert page.content.startswith(b"<html>")
    assert emulator.control.export_jobs() == 1  # handled: IMS started the export
    job_id = emulator.control.jobs()[0]["job_id"]
    emulator.control.inject("job", "job_id_only")
    assert client.job(job_id).json() == {"job_id": job_id}
    emulator.control.inject("job", "undocumented_status")
    assert client.job(job_id).json()["status"] == "DONE"
    emulator.control.inject("iam_token", "no_subject_token")
    response = client.issue_token()
    assert response.status_code == 201
    assert "X-Subject-Token" not in response.headers
