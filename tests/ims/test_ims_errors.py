"""IMS error answers and transport failures become the documented typed errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from ims_export.cloud.http_errors import transient_error, transient_error_class
from ims_export.cloud.iam import IamClient
from ims_export.cloud.ims_errors import (
    ERROR_CLASS_BY_CODE,
    error_from_response,
    error_from_transport,
    parse_error_body,
)
from ims_export.cloud.redaction import MAX_MESSAGE_LENGTH
from ims_export.errors import (
    AuthorizationError,
    ExportAlreadyRunningError,
    ExportTargetError,
    ImageNotExportableError,
    ImageNotFoundError,
    ImageNotReadyError,
    ImsExportError,
    ImsRequestError,
    ObjectAlreadyExistsError,
    TransientError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

# The mapping the export workflow relies on, written out independently of the table under test.
EXPECTED_CLASS_BY_CODE: dict[str, type[ImsExportError]] = {
    "IMG.0060": UpstreamThrottledError,
    "IMG.0027": ImageNotFoundError,
    "IMG.0046": ImageNotReadyError,
    "IMG.0070": ObjectAlreadyExistsError,
    "IMG.0148": ExportAlreadyRunningError,
    **dict.fromkeys(
        [
            *("IMG.0071", "IMG.0077", "IMG.0079", "IMG.0080", "IMG.0081", "IMG.0128", "IMG.0130"),
            *("IMG.0059", "IMG.0160", "IMG.0047"),
        ],
        ImageNotExportableError,
    ),
    **dict.fromkeys(
        ["IMG.0058", "IMG.0068", "IMG.0069", "IMG.0073", "IMG.0074", "IMG.0075", "IMG.0109", "IMG.0175"],
        ExportTargetError,
    ),
    "IMG.0072": ImsRequestError,
    "IMG.0001": ImsRequestError,
    "IMG.0026": AuthorizationError,
    "APIG.0308": UpstreamThrottledError,
}


def make_response(
    status: int,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    reason: str = "",
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response._content = raw if raw is not None else json.dumps(body).encode()
    response.headers.update(headers or {})
    return response


def ims_error(
    code: str, message: str = "IMS says no", status: int = 400, *, headers: dict[str, str] | None = None
) -> requests.Response:
    return make_response(status, {"error": {"code": code, "message": message}}, headers=headers or {})


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED_CLASS_BY_CODE.items()))
def test_each_documented_code_maps_to_its_error_class(code: str, expected: type[ImsExportError]) -> None:
    error = error_from_response(ims_error(code, "Detail from IMS."), operation="export image x")
    assert type(error) is expected
    assert error.code == code
    assert error.status == 400
    assert "Detail from IMS." in error.message
    assert "export image x" in error.message
    assert isinstance(error, TransientError) is (expected is UpstreamThrottledError)


def test_the_table_holds_nothing_the_expectations_do_not_cover() -> None:
    assert ERROR_CLASS_BY_CODE == EXPECTED_CLASS_BY_CODE


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, UpstreamThrottledError),
        (500, UpstreamUnavailableError),
        (502, UpstreamUnavailableError),
        (503, UpstreamUnavailableError),
        (504, UpstreamUnavailableError),
        (403, AuthorizationError),
        (400, ImsRequestError),
        (404, ImsRequestError),
        (409, ImsRequestError),
    ],
)
def test_unknown_codes_are_mapped_by_status(status: int, expected: type[ImsExportError]) -> None:
    error = error_from_response(ims_error("IMG.0999", status=status), operation="op")
    assert type(error) is expected
    assert error.code == "IMG.0999"
    assert error.status == status


def test_a_known_code_wins_over_the_status() -> None:
    assert type(error_from_response(ims_error("IMG.0060", status=400), operation="op")) is (
        UpstreamThrottledError
    )
    assert type(error_from_response(ims_error("IMG.0027", status=404), operation="op")) is ImageNotFoundError


def test_the_error_code_and_error_msg_shape_is_understood() -> None:
    response = make_response(400, {"error_code": "IMG.0070", "error_msg": "File exists."})
    error = error_from_response(response, operation="op")
    assert type(error) is ObjectAlreadyExistsError
    assert error.code == "IMG.0070"
    assert "File exists." in error.message


def test_a_non_json_body_falls_back_to_the_status() -> None:
    response = make_response(502, raw=b"<html><body>Bad Gateway</body></html>", reason="Bad Gateway")
    error = error_from_response(response, operation="get job 1")
    assert type(error) is UpstreamUnavailableError
    assert error.code is None
    assert error.message == "get job 1: HTTP 502 Bad Gateway"
    assert "<html>" not in str(error)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"code": "IMG.0024", "message": "The imagetype is invalid."}},
            ("IMG.0024", "The imagetype is invalid."),
        ),
        ({"error_code": "APIG.0308", "error_msg": "throttled"}, ("APIG.0308", "throttled")),
        (
            {"error": {"message": "Unauthorized.", "code": 401, "title": "Unauthorized"}},
            ("401", "Unauthorized."),
        ),
        ({"error": "plain text error"}, (None, "plain text error")),
        ({"error": {"code": "", "message": ""}}, (None, None)),
        ([1, 2], (None, None)),
        (None, (None, None)),
    ],
)
def test_parse_error_body_tolerates_every_shape(body: Any, expected: tuple[str | None, str | None]) -> None:
    assert parse_error_body(make_response(400, body)) == expected


def test_parse_error_body_of_an_empty_or_broken_body() -> None:
    assert parse_error_body(make_response(500, raw=b"")) == (None, None)
    assert parse_error_body(make_response(500, raw=b"{not json")) == (None, None)


def test_throttling_and_5xx_are_transient_whatever_retry_after_says() -> None:
    # The retry policy is the state machine's; a Retry-After header changes nothing of the error.
    throttled = error_from_response(ims_error("IMG.0060", headers={"Retry-After": "7"}), operation="op")
    unavailable = error_from_response(
        make_response(503, raw=b"", headers={"Retry-After": "12"}), operation="op"
    )
    assert isinstance(throttled, UpstreamThrottledError)
    assert isinstance(unavailable, UpstreamUnavailableError)


def test_secrets_echoed_by_ims_are_masked() -> None:
    secret = "MIIsecret-token-value-1234567890"
    response = ims_error("IMG.0001", f"Invalid header X-Auth-Token: {secret}")
    error = error_from_response(response, operation="op", secrets=(secret,))
    for text in (str(error), repr(error), json.dumps(vars(error), default=str)):
        assert secret not in text
    assert "***" in error.message


def test_long_messages_are_shortened_and_whitespace_collapsed() -> None:
    error = error_from_response(
        ims_error("IMG.0001", "line one\n\n   line two " + "x" * 1000), operation="op"
    )
    assert len(error.message) == MAX_MESSAGE_LENGTH
    assert error.message.startswith("op: line one line two x")
    assert error.message.endswith("...")


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout("connect timed out to https://ims.example/secret-path"),
        requests.ReadTimeout("read timed out to https://ims.example/secret-path"),
        requests.ConnectionError("connection reset https://ims.example/secret-path"),
        requests.exceptions.ChunkedEncodingError("connection broken https://ims.example/secret-path"),
    ],
)
def test_transport_failures_are_retryable_timeouts(failure: requests.RequestException) -> None:
    error = error_from_transport(failure, operation="get job 1")
    assert isinstance(error, UpstreamTimeoutError)
    assert isinstance(error, TransientError)
    assert type(failure).__name__ in error.message
    assert "secret-path" not in error.message


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 400, 403, 404, 409])
def test_iam_ims_and_obs_read_a_status_the_same_way(status: int) -> None:
    # One mapping (cloud.http_errors) decides what is retryable for every client.
    answer = make_response(status, {"error": {"message": "no"}})
    expected = transient_error_class(status)
    ims = error_from_response(answer, operation="op")
    iam = IamClient._error_for(answer, ())
    obs = transient_error(answer, "op", None)
    if expected is None:
        assert obs is None
        assert not isinstance(ims, TransientError)
        assert not isinstance(iam, TransientError)
    else:
        assert type(ims) is type(iam) is type(obs) is expected
