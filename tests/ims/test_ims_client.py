"""ImsClient against a mocked IMS: paths, bodies, token handling, paging and error mapping."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from ims_export.cloud.http import new_session
from ims_export.cloud.ims import ImsClient
from ims_export.cloud.ims_api import normalize_endpoint
from ims_export.domain.export_request import ExportRequest, FileFormat
from ims_export.domain.jobs import JobStatus
from ims_export.errors import (
    ConfigurationError,
    ExportStateUnknown,
    ImageNotExportableError,
    ImageNotFoundError,
    ImsExportError,
    ImsRequestError,
    InvalidRequestError,
    JobNotFoundError,
    MalformedAnswerError,
    ObjectAlreadyExistsError,
    TokenRejectedError,
    TransientError,
    UnexpectedResponseError,
    UnknownJobStatusError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from tests import documented_examples
from tests.ims.conftest import FIRST_TOKEN, IMS, PROJECT_ID, SECOND_TOKEN, TIMEOUT, FakeTokens

# The documented examples (IMS: "Exporting an Image", "Querying the Status of an Asynchronous Job").
DOC_IMAGE_ID = documented_examples.EXPORT_IMAGE_ID
DOC_EXPORT_JOB_ID = documented_examples.EXPORT_JOB_ID
DOC_JOB_ID = documented_examples.JOB_ID
DOC_JOB_RESPONSE = documented_examples.JOB_RESPONSE
EXPORT_URL = f"{IMS}/v1/cloudimages/{DOC_IMAGE_ID}/file"
JOB_URL = f"{IMS}/v1/{PROJECT_ID}/jobs/{DOC_JOB_ID}"
PROGRESS_URL = f"{IMS}/v1/cloudimages/job/{DOC_JOB_ID}"
IMAGES_URL = f"{IMS}/v2/cloudimages"


def doc_request(**changes: Any) -> ExportRequest:
    values: dict[str, Any] = {
        "image_id": DOC_IMAGE_ID,
        "bucket_url": "ims-image:centos7_5.qcow2",
        "file_format": FileFormat.QCOW2,
    }
    return ExportRequest(**{**values, **changes})


def image_json(image_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": image_id,
        "name": f"image-{image_id[:8]}",
        "status": "active",
        "owner": PROJECT_ID,
        "__imagetype": "private",
        "__image_size": "1073741824",
        "min_disk": 40,
        **fields,
    }


def uuid_for(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def ims_error(code: str, status: int = 400, message: str = "IMS refused") -> dict[str, Any]:
    return {"status": status, "json": {"error": {"code": code, "message": message}}}


def sent_token(call: Any) -> str:
    return str(call.request.headers["X-Auth-Token"])


# --- export_image ---------------------------------------------------------------------------------


def test_export_image_posts_the_documented_body_and_returns_the_job_id(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ims_api.post(
        EXPORT_URL,
        json={"job_id": DOC_EXPORT_JOB_ID},
        match=[
            matchers.json_params_matcher({"bucket_url": "ims-image:centos7_5.qcow2", "file_format": "qcow2"}),
            matchers.header_matcher(
                {"X-Auth-Token": FIRST_TOKEN, "Content-Type": "application/json;charset=UTF-8"}
            ),
        ],
    )
    assert client.export_image(doc_request()) == DOC_EXPORT_JOB_ID
    assert len(ims_api.calls) == 1


def test_quick_export_sends_no_file_format(client: ImsClient, ims_api: responses.RequestsMock) -> None:
    ims_api.post(
        EXPORT_URL,
        json={"job_id": DOC_EXPORT_JOB_ID},
        match=[
            matchers.json_params_matcher({"bucket_url": "ims-image:centos7_5.zvhd2", "is_quick_export": True})
        ],
    )
    request = doc_request(bucket_url="ims-image:centos7_5.zvhd2", file_format=None, is_quick_export=True)
    assert client.export_image(request) == DOC_EXPORT_JOB_ID


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"job_id": ""},
        {"job_id": "../../x"},
        {"job_id": 12},
        ["x"],
        {"id": "edc89b490d7d4392898e19b2deb34797"},
    ],
)
def test_export_without_a_readable_job_id_is_export_state_unknown(
    client: ImsClient, ims_api: responses.RequestsMock, answer: Any
) -> None:
    ims_api.post(EXPORT_URL, json=answer)
    with pytest.raises(ExportStateUnknown, match="may be running") as raised:
        client.export_image(doc_request())
    assert "IMG.0148" in raised.value.message
    assert "ims-image:centos7_5.qcow2" in raised.value.message
    assert not isinstance(raised.value, TransientError)
    assert len(ims_api.calls) == 1  # never retried: the export may have started


@pytest.mark.parametrize("body", ["<html><body>OK</body></html>", ""])
def test_export_answer_that_is_not_json_is_export_state_unknown(
    client: ImsClient, ims_api: responses.RequestsMock, body: str
) -> None:
    ims_api.post(EXPORT_URL, body=body)
    with pytest.raises(ExportStateUnknown, match="no readable job id") as raised:
        client.export_image(doc_request())
    assert ("<html>" in raised.value.message) is bool(body)


def test_export_answer_with_the_camel_case_job_id(client: ImsClient, ims_api: responses.RequestsMock) -> None:
    ims_api.post(EXPORT_URL, json={"jobId": DOC_EXPORT_JOB_ID})
    assert client.export_image(doc_request()) == DOC_EXPORT_JOB_ID


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (ims_error("IMG.0070"), ObjectAlreadyExistsError),
        (ims_error("IMG.0128"), ImageNotExportableError),
        (ims_error("IMG.0060"), UpstreamThrottledError),
        ({"status": 500, "body": "oops"}, UpstreamUnavailableError),
        ({"status": 302, "headers": {"Location": "https://elsewhere.example/"}}, ImsRequestError),
    ],
)
def test_export_errors_are_typed(
    client: ImsClient, ims_api: responses.RequestsMock, answer: dict[str, Any], expected: type[Exception]
) -> None:
    ims_api.post(EXPORT_URL, **answer)
    with pytest.raises(expected) as raised:
        client.export_image(doc_request())
    assert type(raised.value) is expected
    assert getattr(raised.value, "status", None) == answer["status"]
    assert len(ims_api.calls) == 1  # never retried here, never redirected


def test_export_honours_retry_after(client: ImsClient, ims_api: responses.RequestsMock) -> None:
    ims_api.post(EXPORT_URL, status=429, json={"error_code": "APIG.0308"}, headers={"Retry-After": "9"})
    with pytest.raises(UpstreamThrottledError) as raised:
        client.export_image(doc_request())
    assert isinstance(raised.value, TransientError)


# --- 401 handling ---------------------------------------------------------------------------------


def test_a_401_invalidates_the_token_and_retries_once_with_a_fresh_one(
    client: ImsClient, tokens: FakeTokens, ims_api: responses.RequestsMock
) -> None:
    ims_api.post(EXPORT_URL, status=401, json={"error": {"code": "IMG.0030", "message": "token expired"}})
    ims_api.post(EXPORT_URL, json={"job_id": DOC_EXPORT_JOB_ID})
    assert client.export_image(doc_request()) == DOC_EXPORT_JOB_ID
    assert [sent_token(call) for call in ims_api.calls] == [FIRST_TOKEN, SECOND_TOKEN]
    assert [token.value.get_secret_value() for token in tokens.invalidated] == [FIRST_TOKEN]


def test_a_second_401_is_token_rejected_after_exactly_two_requests(
    client: ImsClient, tokens: FakeTokens, ims_api: responses.RequestsMock
) -> None:
    ims_api.get(JOB_URL, status=401, json={"error": {"code": 401, "message": "Unauthorized."}})
    with pytest.raises(TokenRejectedError) as raised:
        client.get_job(DOC_JOB_ID)
    assert len(ims_api.calls) == 2
    assert len(tokens.invalidated) == 1
    assert raised.value.status == 401
    assert not isinstance(raised.value, TransientError)


# --- endpoints ------------------------------------------------------------------------------------


def test_the_token_catalog_endpoint_is_used_when_none_is_configured(ims_api: responses.RequestsMock) -> None:
    catalog = "https://ims.eu-ch2.sc.otc.t-systems.com/v2/"
    client = ImsClient(FakeTokens(FIRST_TOKEN, ims_endpoint=catalog), new_session(), TIMEOUT)
    ims_api.get(
        f"https://ims.eu-ch2.sc.otc.t-systems.com/v1/{PROJECT_ID}/jobs/{DOC_JOB_ID}", json=DOC_JOB_RESPONSE
    )
    assert client.get_job(DOC_JOB_ID).status is JobStatus.SUCCESS


def test_a_configured_endpoint_overrides_the_catalog(ims_api: responses.RequestsMock) -> None:
    tokens = FakeTokens(FIRST_TOKEN, ims_endpoint="https://catalog.example")
    client = ImsClient(tokens, new_session(), TIMEOUT, endpoint=IMS + "/")
    ims_api.get(JOB_URL, json=DOC_JOB_RESPONSE)
    client.get_job(DOC_JOB_ID)
    assert ims_api.calls[0].request.url == JOB_URL


def test_no_endpoint_at_all_is_a_configuration_error(ims_api: responses.RequestsMock) -> None:
    client = ImsClient(FakeTokens(FIRST_TOKEN), new_session(), TIMEOUT)
    with pytest.raises(ConfigurationError, match="IMS_ENDPOINT"):
        client.get_job(DOC_JOB_ID)
    assert len(ims_api.calls) == 0


@pytest.mark.parametrize(
    "endpoint", ["ims.eu-de.otc.t-systems.com", "ftp://ims.example", "https://", "https://h?x=1"]
)
def test_a_malformed_endpoint_is_a_configuration_error(endpoint: str) -> None:
    with pytest.raises(ConfigurationError):
        ImsClient(FakeTokens(), new_session(), TIMEOUT, endpoint=endpoint)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://ims.eu-de.otc.t-systems.com", "https://ims.eu-de.otc.t-systems.com"),
        ("https://ims.eu-de.otc.t-systems.com/", "https://ims.eu-de.otc.t-systems.com"),
        ("https://ims.eu-de.otc.t-systems.com/v2", "https://ims.eu-de.otc.t-systems.com"),
        ("https://ims.eu-de.otc.t-systems.com/v1/", "https://ims.eu-de.otc.t-systems.com"),
        ("http://127.0.0.1:8080/ims", "http://127.0.0.1:8080/ims"),
    ],
)
def test_normalize_endpoint(given: str, expected: str) -> None:
    assert normalize_endpoint(given) == expected


# --- get_job --------------------------------------------------------------------------------------


def test_get_job_reads_the_documented_example(client: ImsClient, ims_api: responses.RequestsMock) -> None:
    ims_api.get(
        JOB_URL, json=DOC_JOB_RESPONSE, match=[matchers.header_matcher({"X-Auth-Token": FIRST_TOKEN})]
    )
    job = client.get_job(DOC_JOB_ID)
    assert job.job_id == DOC_JOB_ID
    assert job.status is JobStatus.SUCCESS
    assert job.status.finished
    assert job.job_type == "imsNativeExportImageJob"
    assert job.entities.image_id == "1ab4df10-fe18-48b7-91c9-53695fcd9df5"
    assert job.end_time is not None
    assert job.begin_time is not None
    assert (job.end_time - job.begin_time).total_seconds() == pytest.approx(181.728)


def test_get_job_reports_a_failure_as_data(client: ImsClient, ims_api: responses.RequestsMock) -> None:
    failed = {**DOC_JOB_RESPONSE, "status": "FAIL", "error_code": "IMG.0069", "fail_reason": "bucket gone"}
    ims_api.get(JOB_URL, json=failed)
    job = client.get_job(DOC_JOB_ID)
    assert job.status is JobStatus.FAIL
    assert (job.error_code, job.fail_reason) == ("IMG.0069", "bucket gone")


def test_get_job_404_is_job_not_found(client: ImsClient, ims_api: responses.RequestsMock) -> None:
    ims_api.get(JOB_URL, status=404, json={"error": {"code": "IMG.0000", "message": "not found"}})
    with pytest.raises(JobNotFoundError) as raised:
        client.get_job(DOC_JOB_ID)
    assert (raised.value.code, raised.value.status) == ("IMG.0000", 404)


@pytest.mark.parametrize(
    "answer",
    [{}, {"job_id": "", "status": ""}, {"job_id": None}, {"job_id": DOC_JOB_ID}, {"status": "RUNNING"}],
)
def test_get_job_without_a_job_state_is_a_malformed_answer(
    client: ImsClient, ims_api: responses.RequestsMock, answer: dict[str, Any]
) -> None:
    ims_api.get(JOB_URL, json=answer)
    with pytest.raises(MalformedAnswerError) as raised:
        client.get_job(DOC_JOB_ID)
    assert isinstance(raised.value, TransientError)


@pytest.mark.parametrize("status", ["", None, ["SUCCESS"], 3, {"value": "SUCCESS"}])
def test_get_job_without_a_readable_status_is_a_malformed_answer(
    client: ImsClient, ims_api: responses.RequestsMock, status: Any
) -> None:
    ims_api.get(JOB_URL, json={**DOC_JOB_RESPONSE, "status": status})
    with pytest.raises(MalformedAnswerError, match="status"):
        client.get_job(DOC_JOB_ID)


@pytest.mark.parametrize("status", ["PENDING", "DONE", "succeeded"])
def test_get_job_with_an_undocumented_status_ends_quoting_it(
    client: ImsClient, ims_api: responses.RequestsMock, status: str
) -> None:
    ims_api.get(JOB_URL, json={**DOC_JOB_RESPONSE, "status": status})
    with pytest.raises(UnknownJobStatusError, match=repr(status)) as raised:
        client.get_job(DOC_JOB_ID)
    assert not isinstance(raised.value, TransientError)


@pytest.mark.parametrize("status", ["success", "Success", " SUCCESS "])
def test_get_job_reads_the_status_in_any_case(
    client: ImsClient, ims_api: responses.RequestsMock, status: str
) -> None:
    ims_api.get(JOB_URL, json={**DOC_JOB_RESPONSE, "status": status})
    assert client.get_job(DOC_JOB_ID).status is JobStatus.SUCCESS


def test_get_job_about_another_job_is_a_malformed_answer(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ims_api.get(JOB_URL, json={**DOC_JOB_RESPONSE, "job_id": "ffffffffffffffffffffffffffffffff"})
    with pytest.raises(MalformedAnswerError, match="another job"):
        client.get_job(DOC_JOB_ID)


def test_get_job_with_unreadable_hints_still_reads_the_state(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ims_api.get(JOB_URL, json={**DOC_JOB_RESPONSE, "begin_time": "yesterday", "entities": "?"})
    job = client.get_job(DOC_JOB_ID)
    assert (job.status, job.begin_time, job.entities.image_id) == (JobStatus.SUCCESS, None, None)


@pytest.mark.parametrize(
    "reply",
    [
        {"body": "<html><head><title>Gateway</title></head></html>", "content_type": "text/html"},
        {"body": ""},
        {"body": "{not json"},
    ],
)
def test_get_job_with_a_body_that_is_not_json_is_a_malformed_answer_with_a_snippet(
    client: ImsClient, ims_api: responses.RequestsMock, reply: dict[str, Any]
) -> None:
    ims_api.get(JOB_URL, **reply)
    with pytest.raises(MalformedAnswerError, match="not JSON") as raised:
        client.get_job(DOC_JOB_ID)
    assert raised.value.snippet == (" ".join(reply["body"].split())[:80] or "(empty)")


def test_a_malformed_answer_that_echoes_the_token_is_redacted(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ims_api.get(JOB_URL, body=f"<html>token {FIRST_TOKEN}</html>")
    with pytest.raises(MalformedAnswerError) as raised:
        client.get_job(DOC_JOB_ID)
    assert FIRST_TOKEN[:20] not in str(raised.value)
    assert "***" in raised.value.snippet


@pytest.mark.parametrize("job_id", ["", "../../v2/cloudimages", "a/b", "a?b", "x" * 129, "job id"])
def test_a_malformed_job_id_is_refused_before_any_call(
    client: ImsClient, ims_api: responses.RequestsMock, tokens: FakeTokens, job_id: str
) -> None:
    for method in (client.get_job, client.get_job_progress):
        with pytest.raises(InvalidRequestError):
            method(job_id)
    assert len(ims_api.calls) == 0


# --- get_job_progress -----------------------------------------------------------------------------


@pytest.mark.parametrize(("percent", "expected"), [(42.5, 42.5), ("63.0", 63.0), (0, 0.0), (100, 100.0)])
def test_get_job_progress_returns_process_percent(
    client: ImsClient, ims_api: responses.RequestsMock, percent: Any, expected: float
) -> None:
    ims_api.get(
        PROGRESS_URL,
        json={"job_id": DOC_JOB_ID, "status": "RUNNING", "entities": {"process_percent": percent}},
        match=[matchers.header_matcher({"X-Auth-Token": FIRST_TOKEN})],
    )
    assert client.get_job_progress(DOC_JOB_ID) == expected


def test_get_job_progress_is_none_where_the_api_is_absent(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ims_api.get(PROGRESS_URL, status=404, json={"error_code": "APIG.0101", "error_msg": "API does not exist"})
    assert client.get_job_progress(DOC_JOB_ID) is None
    # Remembered: later polls do not ask an API that does not exist.
    assert client.get_job_progress(DOC_JOB_ID) is None
    assert len(ims_api.calls) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"entities": {}},
        {"entities": None},
        {"entities": {"process_percent": "n/a"}},
        {"entities": {"process_percent": 140}},
        {"entities": {"process_percent": "nan"}},
        {"status": "RUNNING"},
        ["not", "a", "job"],
    ],
)
def test_get_job_progress_that_says_nothing_usable_is_none(
    client: ImsClient, ims_api: responses.RequestsMock, answer: Any
) -> None:
    ims_api.get(PROGRESS_URL, json=answer)
    assert client.get_job_progress(DOC_JOB_ID) is None


def test_get_job_progress_with_a_non_json_body_is_none(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ims_api.get(PROGRESS_URL, body="<html></html>")
    assert client.get_job_progress(DOC_JOB_ID) is None


def test_get_job_progress_still_raises_transient_errors(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ims_api.get(PROGRESS_URL, status=503, body="")
    with pytest.raises(UpstreamUnavailableError):
        client.get_job_progress(DOC_JOB_ID)


# --- get_image ------------------------------------------------------------------------------------


def test_get_image_queries_by_id(client: ImsClient, ims_api: responses.RequestsMock) -> None:
    ims_api.get(
        IMAGES_URL,
        json={"images": [image_json(DOC_IMAGE_ID, __whole_image="false")]},
        match=[
            matchers.query_param_matcher({"id": DOC_IMAGE_ID}),
            matchers.header_matcher({"X-Auth-Token": FIRST_TOKEN}),
        ],
    )
    image = client.get_image(DOC_IMAGE_ID)
    assert image.id == DOC_IMAGE_ID
    assert image.image_size_bytes == 1073741824
    assert image.whole_image is False


def test_get_image_of_an_empty_list_is_not_found(client: ImsClient, ims_api: responses.RequestsMock) -> None:
    ims_api.get(IMAGES_URL, json={"images": []})
    with pytest.raises(ImageNotFoundError):
        client.get_image(DOC_IMAGE_ID)


def test_get_image_ignores_images_with_another_id(client: ImsClient, ims_api: responses.RequestsMock) -> None:
    ims_api.get(IMAGES_URL, json={"images": [image_json(uuid_for(1))]})
    with pytest.raises(ImageNotFoundError):
        client.get_image(DOC_IMAGE_ID)


@pytest.mark.parametrize("image_id", ["", "not-a-uuid", DOC_IMAGE_ID + "\n", f"{DOC_IMAGE_ID}&owner=x"])
def test_get_image_refuses_a_malformed_id_before_any_call(
    client: ImsClient, ims_api: responses.RequestsMock, image_id: str
) -> None:
    with pytest.raises(InvalidRequestError):
        client.get_image(image_id)
    assert len(ims_api.calls) == 0


@pytest.mark.parametrize(
    "answer",
    [{"images": [{"id": DOC_IMAGE_ID, "status": "frozen"}]}, {"images": "none"}, {"imgs": []}, [1]],
)
def test_get_image_with_a_malformed_answer_is_unexpected(
    client: ImsClient, ims_api: responses.RequestsMock, answer: Any
) -> None:
    ims_api.get(IMAGES_URL, json=answer)
    with pytest.raises(UnexpectedResponseError):
        client.get_image(DOC_IMAGE_ID)


# --- list_images ----------------------------------------------------------------------------------


def test_list_images_pages_with_the_last_id_as_marker(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ids = [uuid_for(number) for number in range(5)]
    filters = {"__imagetype": "private", "owner": PROJECT_ID}
    pages = [(None, ids[0:2]), (ids[1], ids[2:4]), (ids[3], ids[4:5])]
    for marker, page in pages:
        expected_query = {**filters, "limit": "2", **({"marker": marker} if marker else {})}
        ims_api.get(
            IMAGES_URL,
            json={"images": [image_json(image_id) for image_id in page]},
            match=[matchers.query_param_matcher(expected_query)],
        )
    assert [image.id for image in client.list_images(filters, page_size=2)] == ids
    assert len(ims_api.calls) == 3


def test_list_images_stops_after_a_full_last_page_that_is_followed_by_an_empty_one(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ids = [uuid_for(number) for number in range(2)]
    ims_api.get(IMAGES_URL, json={"images": [image_json(image_id) for image_id in ids]})
    ims_api.get(
        IMAGES_URL,
        json={"images": []},
        match=[matchers.query_param_matcher({"limit": "2", "marker": ids[1]})],
    )
    assert [image.id for image in client.list_images({}, page_size=2)] == ids


def test_list_images_uses_the_documented_default_page_size(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ims_api.get(IMAGES_URL, json={"images": []}, match=[matchers.query_param_matcher({"limit": "500"})])
    assert list(client.list_images({})) == []


def test_list_images_max_items_limits_requests_and_results(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    ids = [uuid_for(number) for number in range(5)]
    ims_api.get(
        IMAGES_URL,
        json={"images": [image_json(image_id) for image_id in ids[:2]]},
        match=[matchers.query_param_matcher({"limit": "2"})],
    )
    ims_api.get(
        IMAGES_URL,
        json={"images": [image_json(ids[2])]},
        match=[matchers.query_param_matcher({"limit": "1", "marker": ids[1]})],
    )
    assert [image.id for image in client.list_images({}, page_size=2, max_items=3)] == ids[:3]
    assert len(ims_api.calls) == 2


def test_list_images_with_max_items_zero_makes_no_call(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    assert list(client.list_images({}, max_items=0)) == []
    assert len(ims_api.calls) == 0


def test_list_images_stops_when_ims_ignores_the_marker(
    client: ImsClient, ims_api: responses.RequestsMock
) -> None:
    same_page = {"images": [image_json(uuid_for(1)), image_json(uuid_for(2))]}
    ims_api.get(IMAGES_URL, json=same_page)
    ims_api.get(IMAGES_URL, json=same_page)
    with pytest.raises(UnexpectedResponseError, match="same page"):
        list(client.list_images({}, page_size=2))
    assert len(ims_api.calls) == 2


@pytest.mark.parametrize(
    ("filters", "options"),
    [
        ({"marker": "x"}, {}),
        ({"limit": "5"}, {}),
        ({"": "x"}, {}),
        ({"name": 5}, {}),
        ({}, {"page_size": 0}),
        ({}, {"page_size": 501}),
        ({}, {"max_items": -1}),
    ],
)
def test_list_images_refuses_bad_arguments_at_once(
    client: ImsClient, ims_api: responses.RequestsMock, filters: Any, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequestError):
        client.list_images(filters, **options)  # raises before iteration starts
    assert len(ims_api.calls) == 0


# --- transport failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout("connect timeout"),
        requests.ReadTimeout("read timeout"),
        requests.ConnectionError("connection refused"),
        requests.exceptions.ChunkedEncodingError("connection dropped"),
    ],
)
def test_timeouts_and_dropped_connections_are_retryable(
    client: ImsClient, ims_api: responses.RequestsMock, failure: Exception
) -> None:
    ims_api.get(JOB_URL, body=failure)
    with pytest.raises(UpstreamTimeoutError) as raised:
        client.get_job(DOC_JOB_ID)
    assert isinstance(raised.value, TransientError)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_timeouts_are_passed_to_requests(tokens: FakeTokens, ims_api: responses.RequestsMock) -> None:
    seen: list[Any] = []

    class RecordingSession(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> requests.Response:
            seen.append((kwargs.get("timeout"), kwargs.get("allow_redirects")))
            return super().request(*args, **kwargs)

    ims_api.get(JOB_URL, json=DOC_JOB_RESPONSE)
    ImsClient(tokens, RecordingSession(), (1.5, 7.0), endpoint=IMS).get_job(DOC_JOB_ID)
    assert seen == [((1.5, 7.0), False)]


# --- the token stays secret -----------------------------------------------------------------------


def test_the_token_never_appears_in_errors_reprs_or_logs(
    client: ImsClient, ims_api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    echo = {"error": {"code": "IMG.0001", "message": f"bad header {FIRST_TOKEN}"}}
    ims_api.get(JOB_URL, status=400, json=echo)
    ims_api.post(EXPORT_URL, status=401, json={"error": {"message": FIRST_TOKEN}})
    ims_api.post(EXPORT_URL, status=401, json={"error": {"message": SECOND_TOKEN}})
    ims_api.get(PROGRESS_URL, body=requests.ReadTimeout(f"timeout {FIRST_TOKEN}"))
    caplog.set_level(logging.DEBUG)
    errors: list[ImsExportError] = []
    for call in (
        lambda: client.get_job(DOC_JOB_ID),
        lambda: client.export_image(doc_request()),
        lambda: client.get_job_progress(DOC_JOB_ID),
    ):
        with pytest.raises(ImsExportError) as raised:
            call()
        errors.append(raised.value)
    texts = [caplog.text, repr(client), *(f"{e!s} {e!r} {json.dumps(vars(e), default=str)}" for e in errors)]
    for text in texts:
        assert FIRST_TOKEN not in text
        assert SECOND_TOKEN not in text
    assert "IMS GET" in caplog.text  # the calls were logged, just not the token
