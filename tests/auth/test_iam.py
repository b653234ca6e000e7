from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
import requests
import responses
from pydantic import SecretStr

from ims_export.cloud.http import new_session
from ims_export.cloud.iam import IamClient
from ims_export.domain.credentials import Credentials
from ims_export.errors import (
    AccountLockedError,
    AuthenticationError,
    AuthorizationError,
    ConfigurationError,
    ImsExportError,
    TransientError,
    UnexpectedResponseError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from tests.auth.fakes import IAM_ENDPOINT, IMS_URL, NOW, PASSWORD, PROJECT_ID, TOKENS_URL, catalog, token_body

TOKEN = "MIIWvwYJKoZIhvcNAQcCoIIWsDCCFqwCAQExDTALBglghkgBZQMEAgEwghQ-BgkqhkiG9w0BBwGgghQ"
CREDENTIALS = Credentials(user_name="ims-export", password=SecretStr(PASSWORD), domain_name="OTC-EU-DE-1")


@pytest.fixture
def iam() -> IamClient:
    return IamClient(IAM_ENDPOINT + "/", new_session(), (1.0, 2.0))


@pytest.fixture
def mocked() -> Any:
    with responses.RequestsMock() as mock:
        yield mock


def answer(
    mocked: Any, body: Any = None, *, status: int = 201, headers: dict[str, str] | None = None
) -> None:
    mocked.add(
        responses.POST,
        TOKENS_URL,
        status=status,
        body=body if isinstance(body, str) else json.dumps(body if body is not None else token_body(NOW)),
        headers={"X-Subject-Token": TOKEN} if headers is None else headers,
    )


def sent_body(mocked: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(mocked.calls[0].request.body)
    return body


# --- the request --------------------------------------------------------------------------------


def test_password_body_scoped_to_a_project_by_name(iam: IamClient, mocked: Any) -> None:
    answer(mocked)
    iam.issue_token(CREDENTIALS, project_name="eu-de")

    request = mocked.calls[0].request
    assert request.headers["Content-Type"] == "application/json;charset=utf8"
    assert sent_body(mocked) == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "ims-export", "password": PASSWORD, "domain": {"name": "OTC-EU-DE-1"}}
                },
            },
            "scope": {"project": {"name": "eu-de"}},
        }
    }


def test_project_id_wins_over_a_name(iam: IamClient, mocked: Any) -> None:
    answer(mocked)
    iam.issue_token(CREDENTIALS, project_name="eu-de", project_id=PROJECT_ID)
    assert sent_body(mocked)["auth"]["scope"] == {"project": {"id": PROJECT_ID}}


def test_project_of_the_credentials_is_used_when_no_argument_names_one(iam: IamClient, mocked: Any) -> None:
    answer(mocked)
    credentials = CREDENTIALS.model_copy(update={"project_name": "eu-de_sub"})
    iam.issue_token(credentials)
    assert sent_body(mocked)["auth"]["scope"] == {"project": {"name": "eu-de_sub"}}


def test_no_project_at_all_is_refused_before_any_request(iam: IamClient, mocked: Any) -> None:
    with pytest.raises(ConfigurationError, match="no project"):
        iam.issue_token(CREDENTIALS)
    assert len(mocked.calls) == 0


# --- the answer ---------------------------------------------------------------------------------


def test_token_from_the_header_with_expiry_project_and_ims_endpoint(iam: IamClient, mocked: Any) -> None:
    answer(mocked, token_body(NOW + timedelta(hours=24)))
    token = iam.issue_token(CREDENTIALS, project_name="eu-de")

    assert token.value.get_secret_value() == TOKEN
    assert token.expires_at == NOW + timedelta(hours=24)
    assert token.expires_at.tzinfo is not None
    assert token.project_id == PROJECT_ID
    assert token.ims_endpoint == IMS_URL
    assert TOKEN not in repr(token)


@pytest.mark.parametrize(
    ("image_urls", "expected"),
    [
        (
            [("internal", "https://ims.internal.test"), ("public", "https://ims.public.test/")],
            "https://ims.public.test",
        ),
        ([("admin", "https://ims.admin.test/v2")], "https://ims.admin.test"),
        (
            [("public", f"https://ims.public.test/v1/{PROJECT_ID}")],
            f"https://ims.public.test/v1/{PROJECT_ID}",
        ),
        ([("public", "https://ims.public.test/v2.1/")], "https://ims.public.test"),
        (None, None),
    ],
)
def test_ims_endpoint_from_the_catalog(
    iam: IamClient, mocked: Any, image_urls: list[tuple[str, str]] | None, expected: str | None
) -> None:
    answer(mocked, token_body(NOW, entries=catalog(image_urls=image_urls)))
    assert iam.issue_token(CREDENTIALS, project_name="eu-de").ims_endpoint == expected


def test_malformed_catalog_entries_are_skipped(iam: IamClient, mocked: Any) -> None:
    entries: list[Any] = ["junk", {"type": "image"}, {"type": "volume", "endpoints": [{"no": "url"}]}]
    entries += catalog(image_urls=[("public", IMS_URL)])
    answer(mocked, token_body(NOW, entries=entries))
    assert iam.issue_token(CREDENTIALS, project_name="eu-de").ims_endpoint == IMS_URL


def test_missing_catalog_gives_no_endpoint(iam: IamClient, mocked: Any) -> None:
    body = token_body(NOW)
    del body["token"]["catalog"]
    answer(mocked, body)
    assert iam.issue_token(CREDENTIALS, project_name="eu-de").ims_endpoint is None


# --- errors -------------------------------------------------------------------------------------


def iam_error(code: Any, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "title": "Error"}}


@pytest.mark.parametrize(
    "case",
    [
        (401, iam_error(401, "Unauthorized."), AuthenticationError, "401"),
        (401, iam_error("IAM.0062", "Incorrect password"), AuthenticationError, "IAM.0062"),
        (401, iam_error("IAM.0061", "Account locked."), AccountLockedError, "IAM.0061"),
        (403, iam_error("IAM.0082", "User disabled"), AuthorizationError, "IAM.0082"),
        (500, iam_error("IAM.0006", "Internal error"), UpstreamUnavailableError, "IAM.0006"),
        (503, "<html>Service Unavailable</html>", UpstreamUnavailableError, None),
        (400, iam_error("IAM.1109", "Project not found"), ConfigurationError, "IAM.1109"),
        (400, {"error_code": "IAM.0007", "error_msg": "Bad request"}, UnexpectedResponseError, "IAM.0007"),
        (
            400,
            iam_error("IAM.0012", "The throttling threshold has been reached"),
            UpstreamThrottledError,
            "IAM.0012",
        ),
    ],
)
def test_status_and_code_map_to_typed_errors(
    iam: IamClient, mocked: Any, case: tuple[int, Any, type[ImsExportError], str | None]
) -> None:
    status, body, error_class, code = case
    answer(mocked, body, status=status, headers={})
    with pytest.raises(error_class) as raised:
        iam.issue_token(CREDENTIALS, project_name="eu-de")
    assert type(raised.value) is error_class
    assert raised.value.code == code
    assert raised.value.status == status


def test_account_locked_is_an_authentication_error() -> None:
    assert issubclass(AccountLockedError, AuthenticationError)


@pytest.mark.parametrize("header", ["7", "0.5", None, "soon"])
def test_throttling_is_transient_with_or_without_retry_after(
    iam: IamClient, mocked: Any, header: str | None
) -> None:
    answer(
        mocked,
        iam_error("IAM.0012", "throttled"),
        status=429,
        headers={"Retry-After": header} if header else {},
    )
    with pytest.raises(UpstreamThrottledError) as raised:
        iam.issue_token(CREDENTIALS, project_name="eu-de")
    assert isinstance(raised.value, TransientError)


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectTimeout(),
        requests.exceptions.ReadTimeout(),
        requests.exceptions.ConnectionError(),
    ],
)
def test_timeouts_and_connection_errors(iam: IamClient, mocked: Any, failure: Exception) -> None:
    mocked.add(responses.POST, TOKENS_URL, body=failure)
    with pytest.raises(UpstreamTimeoutError) as raised:
        iam.issue_token(CREDENTIALS, project_name="eu-de")
    assert type(failure).__name__ in str(raised.value)


def test_invalid_endpoint_is_a_configuration_error() -> None:
    client = IamClient("iam.without.scheme/v3", new_session(), (1.0, 1.0))
    with pytest.raises(ConfigurationError, match="invalid"):
        client.issue_token(CREDENTIALS, project_name="eu-de")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ("not json", {"X-Subject-Token": TOKEN}),
        ({"token": {"expires_at": "tomorrow", "project": {"id": PROJECT_ID}}}, {"X-Subject-Token": TOKEN}),
        ({"token": {"expires_at": "2025-03-02T12:00:00Z"}}, {"X-Subject-Token": TOKEN}),
    ],
)
def test_unparseable_answers(iam: IamClient, mocked: Any, body: Any, headers: dict[str, str]) -> None:
    answer(mocked, body, headers=headers)
    with pytest.raises(UnexpectedResponseError) as raised:
        iam.issue_token(CREDENTIALS, project_name="eu-de")
    assert TOKEN not in str(raised.value)


# --- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500])
def test_no_secret_in_errors_or_logs(
    iam: IamClient, mocked: Any, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.DEBUG, logger="ims_export")
    # A server that echoes the request: nothing of it may reach the error.
    echo = iam_error("IAM.0001", f"bad request for password {PASSWORD} token {TOKEN}")
    answer(mocked, echo, status=status, headers={"X-Subject-Token": TOKEN})
    with pytest.raises(ImsExportError) as raised:
        iam.issue_token(CREDENTIALS, project_name="eu-de")

    error = raised.value
    for text in (str(error), repr(error), json.dumps(vars(error), default=str), caplog.text):
        assert PASSWORD not in text
        assert '"auth"' not in text  # the request body is never echoed
    assert "***" in error.message


def test_unexpected_body_with_a_token_echo_keeps_the_token_out(iam: IamClient, mocked: Any) -> None:
    answer(mocked, {"token": {"expires_at": TOKEN, "project": {"id": PROJECT_ID}}})
    with pytest.raises(UnexpectedResponseError) as raised:
        iam.issue_token(CREDENTIALS, project_name="eu-de")
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value)
