"""The IMS client across clouds and API generations: job API fallback, derived endpoint, refusals."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
import requests
import responses

from ims_export.cloud.http import new_session, with_connect_retries
from ims_export.cloud.ims import ImsClient
from ims_export.domain.jobs import JobStatus
from ims_export.errors import ConfigurationError, JobNotFoundError, UpstreamUnreachableError
from ims_export.settings import Cloud, default_ims_endpoint
from tests import documented_examples
from tests.ims.conftest import IMS, PROJECT_ID, TIMEOUT, FakeTokens

JOB_ID = documented_examples.JOB_ID
PROJECT_JOBS_URL = f"{IMS}/v1/{PROJECT_ID}/jobs/{JOB_ID}"
CLOUDIMAGES_JOB_URL = f"{IMS}/v1/cloudimages/job/{JOB_ID}"
MISSING_API = {"error_code": "APIGW.0101", "error_msg": "The API does not exist or has not been published"}
RUNNING = {"job_id": JOB_ID, "status": "RUNNING", "entities": {"process_percent": 40}}


def client_for(cloud: Cloud, *, endpoint: str | None = IMS, derived: str | None = None) -> ImsClient:
    return ImsClient(FakeTokens(), new_session(), TIMEOUT, endpoint, cloud=cloud, derived_endpoint=derived)


@pytest.fixture
def ims_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def calls_to(mock: responses.RequestsMock, url: str) -> int:
    return sum(1 for call in mock.calls if call.request.url == url)


def test_otc_falls_back_to_the_cloudimages_job_api_and_remembers_it(ims_api: responses.RequestsMock) -> None:
    ims_api.get(PROJECT_JOBS_URL, status=404, json=MISSING_API)
    ims_api.get(CLOUDIMAGES_JOB_URL, json=RUNNING)
    client = client_for(Cloud.OTC)

    for _ in range(3):
        assert client.get_job(JOB_ID).status is JobStatus.RUNNING

    assert calls_to(ims_api, PROJECT_JOBS_URL) == 1
    assert calls_to(ims_api, CLOUDIMAGES_JOB_URL) == 3


def test_huawei_asks_the_current_job_api_first(ims_api: responses.RequestsMock) -> None:
    ims_api.get(CLOUDIMAGES_JOB_URL, json=RUNNING)
    assert client_for(Cloud.HUAWEI).get_job(JOB_ID).process_percent == 40.0
    assert calls_to(ims_api, PROJECT_JOBS_URL) == 0


def test_huawei_falls_back_to_the_project_jobs_api(ims_api: responses.RequestsMock) -> None:
    ims_api.get(CLOUDIMAGES_JOB_URL, status=404, json={"error": {"code": "APIG.0101", "message": "x"}})
    ims_api.get(PROJECT_JOBS_URL, json=RUNNING)
    client = client_for(Cloud.HUAWEI)
    client.get_job(JOB_ID)
    client.get_job(JOB_ID)
    assert calls_to(ims_api, CLOUDIMAGES_JOB_URL) == 1
    # The progress API is that same missing API: it is not asked either.
    assert client.get_job_progress(JOB_ID) is None
    assert calls_to(ims_api, CLOUDIMAGES_JOB_URL) == 1


def test_an_unknown_job_is_not_a_missing_api(ims_api: responses.RequestsMock) -> None:
    ims_api.get(PROJECT_JOBS_URL, status=404, json={"error": {"code": "IMG.0404", "message": "no such job"}})
    with pytest.raises(JobNotFoundError):
        client_for(Cloud.OTC).get_job(JOB_ID)
    assert calls_to(ims_api, CLOUDIMAGES_JOB_URL) == 0


def test_neither_job_api_is_a_configuration_error_that_says_the_export_may_run(
    ims_api: responses.RequestsMock,
) -> None:
    ims_api.get(PROJECT_JOBS_URL, status=404, json=MISSING_API)
    ims_api.get(CLOUDIMAGES_JOB_URL, status=404, json=MISSING_API)
    client = client_for(Cloud.OTC)
    with pytest.raises(ConfigurationError, match="may still be running"):
        client.get_job(JOB_ID)
    # Not remembered as hopeless: the next poll asks again.
    with pytest.raises(ConfigurationError):
        client.get_job(JOB_ID)
    assert calls_to(ims_api, PROJECT_JOBS_URL) == 2


@pytest.mark.parametrize(
    ("cloud", "region", "expected"),
    [
        (Cloud.OTC, "eu-de", "https://ims.eu-de.otc.t-systems.com"),
        (Cloud.OTC, "eu-ch2", "https://ims.eu-ch2.sc.otc.t-systems.com"),
        (Cloud.HUAWEI, "ap-southeast-1", "https://ims.ap-southeast-1.myhuaweicloud.com"),
        (Cloud.HUAWEI, "eu-west-101", "https://ims.eu-west-101.myhuaweicloud.eu"),
    ],
)
def test_the_ims_endpoint_derived_from_cloud_and_region(cloud: Cloud, region: str, expected: str) -> None:
    assert default_ims_endpoint(cloud, region) == expected


def test_a_catalog_without_the_image_service_uses_the_derived_endpoint(
    ims_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    derived = default_ims_endpoint(Cloud.OTC, "eu-nl")
    ims_api.get(f"{derived}/v1/{PROJECT_ID}/jobs/{JOB_ID}", json=RUNNING)
    client = client_for(Cloud.OTC, endpoint=None, derived=derived)
    with caplog.at_level(logging.WARNING):
        client.get_job(JOB_ID)
        client.get_job(JOB_ID)
    derived_logs = [record for record in caplog.records if "derived from cloud and region" in record.message]
    assert len(derived_logs) == 1


def test_the_catalog_wins_over_the_derived_endpoint(ims_api: responses.RequestsMock) -> None:
    ims_api.get(f"{IMS}/v1/{PROJECT_ID}/jobs/{JOB_ID}", json=RUNNING)
    tokens = FakeTokens(ims_endpoint=IMS + "/v2")
    client = ImsClient(tokens, new_session(), TIMEOUT, derived_endpoint="https://ims.elsewhere.example")
    assert client.get_job(JOB_ID).status is JobStatus.RUNNING


def closed_loopback_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v3/auth/tokens"


def test_a_refused_connection_is_retried_a_bounded_number_of_times_naming_the_host(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = closed_loopback_url()
    waits: list[float] = []
    session = new_session()
    with caplog.at_level(logging.WARNING), pytest.raises(UpstreamUnreachableError) as raised:
        with_connect_retries(
            lambda: session.get(url, timeout=(5, 5)), service="IAM", url=url, retries=2, sleep=waits.append
        )
    host = url.split("/")[2]
    assert f"could not connect to {host}" in str(raised.value)
    assert waits == [0.5, 1.0]
    retries = [record.message for record in caplog.records if "could not connect" in record.message]
    assert retries == [
        f"IAM: could not connect to {host}; retry 1 of 2 in 0.5 s",
        f"IAM: could not connect to {host}; retry 2 of 2 in 1.0 s",
    ]


def test_other_connection_errors_are_not_retried_here() -> None:
    attempts: list[int] = []

    def dropped() -> None:
        attempts.append(1)
        raise requests.ConnectionError("Connection aborted")

    with pytest.raises(requests.ConnectionError):
        with_connect_retries(dropped, service="IMS", url="https://ims.example", sleep=lambda _s: None)
    assert attempts == [1]


def test_neither_job_api_names_the_host_the_calls_went_to(ims_api: responses.RequestsMock) -> None:
    # No IMS_ENDPOINT: the token's catalog decides, although a derived endpoint is known too.
    catalog = "https://ims.catalog.example:8443"
    ims_api.get(f"{catalog}/v1/{PROJECT_ID}/jobs/{JOB_ID}", status=404, json=MISSING_API)
    ims_api.get(f"{catalog}/v1/cloudimages/job/{JOB_ID}", status=404, json=MISSING_API)
    client = ImsClient(
        FakeTokens(ims_endpoint=catalog),
        new_session(),
        TIMEOUT,
        None,
        cloud=Cloud.OTC,
        derived_endpoint=IMS,
    )
    with pytest.raises(ConfigurationError) as raised:
        client.get_job(JOB_ID)
    assert "exists at ims.catalog.example:8443" in raised.value.message
    assert "ims.eu-de.otc.t-systems.com" not in raised.value.message
