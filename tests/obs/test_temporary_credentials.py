"""Temporary credentials from the IAM token: the request, the answer, the errors, and no secret shown."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
import responses

from ims_export.cloud.http import new_session
from ims_export.cloud.temporary_credentials import (
    TemporaryCredentialsClient,
    bucket_access_policy,
    security_tokens_url,
)
from ims_export.errors import (
    ConfigurationError,
    TemporaryCredentialsDeniedError,
    TokenRejectedError,
    TransientError,
    UnexpectedResponseError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from localdev.emulator import Emulator
from tests.obs.conftest import (
    ACCESS_KEY,
    IAM_TOKEN,
    SECRET_KEY,
    SECURITY_TOKEN,
    TIMEOUT,
    StaticTokens,
    all_secrets,
    issued,
    unused_loopback_port,
)

IAM = "https://iam.eu-de.otc.t-systems.com/v3"
URL = "https://iam.eu-de.otc.t-systems.com/v3.0/OS-CREDENTIAL/securitytokens"
ANSWER = {
    "credential": {
        "access": ACCESS_KEY,
        "secret": SECRET_KEY,
        "expires_at": "2017-04-17T07:55:18.575000Z",
        "securitytoken": SECURITY_TOKEN,
    }
}
SECOND_TOKEN = "MIIsecond-obs-tests-token-" + "R" * 50


@pytest.fixture
def tokens() -> StaticTokens:
    return StaticTokens(issued(IAM_TOKEN), issued(SECOND_TOKEN))


@pytest.fixture
def client(tokens: StaticTokens) -> TemporaryCredentialsClient:
    return TemporaryCredentialsClient(tokens, IAM, new_session(), TIMEOUT)


@pytest.fixture
def iam() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def _assert_hidden(text: str) -> None:
    for secret in (SECRET_KEY, SECURITY_TOKEN, IAM_TOKEN, SECOND_TOKEN):
        assert secret not in text


def test_request_body_and_parsed_answer(
    client: TemporaryCredentialsClient, iam: responses.RequestsMock
) -> None:
    iam.post(URL, json=ANSWER, status=201)

    credentials = client.issue()

    sent = iam.calls[0].request
    assert sent.headers["X-Auth-Token"] == IAM_TOKEN
    assert sent.headers["Content-Type"] == "application/json;charset=utf8"
    assert json.loads(sent.body or b"") == {
        "auth": {"identity": {"methods": ["token"], "token": {"duration_seconds": 900}}}
    }
    assert credentials.access_key_id == ACCESS_KEY
    assert all_secrets(credentials) == (SECRET_KEY, SECURITY_TOKEN)
    assert credentials.expires_at == datetime(2017, 4, 17, 7, 55, 18, 575000, tzinfo=UTC)


def test_policy_narrows_to_one_bucket(
    client: TemporaryCredentialsClient, iam: responses.RequestsMock
) -> None:
    iam.post(URL, json=ANSWER, status=201)

    client.issue(duration_seconds=1800, policy=bucket_access_policy("ims-export-demo"))

    identity = json.loads(iam.calls[0].request.body or b"")["auth"]["identity"]
    assert identity["token"] == {"duration_seconds": 1800}
    assert identity["policy"] == {
        "Version": "1.1",
        "Statement": [
            {
                "Effect": "Allow",
                # Reading and listing; the bucket's metadata for the target's pre-flight. No writing.
                "Action": [
                    "obs:object:GetObject",
                    "obs:bucket:ListBucket",
                    "obs:bucket:HeadBucket",
                    "obs:bucket:GetBucketLocation",
                    "obs:bucket:GetBucketStoragePolicy",
                ],
                "Resource": ["obs:*:*:object:ims-export-demo/*", "obs:*:*:bucket:ims-export-demo"],
            }
        ],
    }
    assert (
        "obs:object:DeleteObject" in bucket_access_policy("b-1", allow_delete=True)["Statement"][0]["Action"]
    )


def test_secrets_never_in_repr_or_str(
    client: TemporaryCredentialsClient, iam: responses.RequestsMock
) -> None:
    iam.post(URL, json=ANSWER, status=201)
    credentials = client.issue()

    for text in (repr(credentials), str(credentials), repr(client), credentials.model_dump_json()):
        _assert_hidden(text)
        assert ACCESS_KEY not in text


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (403, TemporaryCredentialsDeniedError),
        (500, UpstreamUnavailableError),
        (503, UpstreamUnavailableError),
        (429, UpstreamThrottledError),
        (404, UnexpectedResponseError),
    ],
)
def test_errors_are_typed_and_masked(
    client: TemporaryCredentialsClient, iam: responses.RequestsMock, status: int, error_class: type[Exception]
) -> None:
    # An answer that echoes the token must not carry it into the error.
    iam.post(
        URL, json={"error": {"code": "IAM.0003", "message": f"no access for {IAM_TOKEN}"}}, status=status
    )

    with pytest.raises(error_class) as caught:
        client.issue()

    _assert_hidden(str(caught.value))
    assert str(status) in str(caught.value)


def test_throttling_keeps_retry_after(
    client: TemporaryCredentialsClient, iam: responses.RequestsMock
) -> None:
    iam.post(
        URL,
        json={"error_code": "IAM.0012", "error_msg": "throttled"},
        status=429,
        headers={"Retry-After": "4"},
    )
    with pytest.raises(UpstreamThrottledError):
        client.issue()


def test_a_refused_policy_is_named_and_says_what_to_do(
    client: TemporaryCredentialsClient, iam: responses.RequestsMock
) -> None:
    iam.post(URL, json={"error": {"code": 400, "message": "unknown field policy"}}, status=400)
    with pytest.raises(TemporaryCredentialsDeniedError, match="turn the narrowing off"):
        client.issue(policy=bucket_access_policy("ims-export-demo"))


def test_401_refreshes_the_token_once(
    client: TemporaryCredentialsClient, tokens: StaticTokens, iam: responses.RequestsMock
) -> None:
    iam.post(URL, json={"error": {"code": 401, "message": "token expired"}}, status=401)
    iam.post(URL, json=ANSWER, status=201)

    assert client.issue().access_key_id == ACCESS_KEY
    assert [call.request.headers["X-Auth-Token"] for call in iam.calls] == [IAM_TOKEN, SECOND_TOKEN]
    assert [token.value.get_secret_value() for token in tokens.invalidated] == [IAM_TOKEN]


def test_second_401_is_token_rejected(
    client: TemporaryCredentialsClient, iam: responses.RequestsMock
) -> None:
    iam.post(URL, json={}, status=401)
    iam.post(URL, json={}, status=401)
    with pytest.raises(TokenRejectedError):
        client.issue()


def test_malformed_answer_is_unexpected_and_masked(
    client: TemporaryCredentialsClient, iam: responses.RequestsMock
) -> None:
    iam.post(URL, json={"credential": {"access": ACCESS_KEY, "secret": SECRET_KEY}}, status=201)
    with pytest.raises(UnexpectedResponseError, match="securitytoken") as caught:
        client.issue()
    _assert_hidden(str(caught.value))


def test_timeout_is_transient_and_names_the_host(
    client: TemporaryCredentialsClient, iam: responses.RequestsMock
) -> None:
    iam.post(URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(UpstreamTimeoutError, match=r"iam\.eu-de\.otc\.t-systems\.com") as caught:
        client.issue()
    assert isinstance(caught.value, TransientError)


def test_connection_refused_names_the_host(tokens: StaticTokens) -> None:
    port = unused_loopback_port()
    client = TemporaryCredentialsClient(tokens, f"http://127.0.0.1:{port}/v3", new_session(), TIMEOUT)
    with pytest.raises(UpstreamTimeoutError, match=f"127.0.0.1:{port}"):
        client.issue()


@pytest.mark.parametrize("duration", [899, 86401])
def test_duration_outside_the_documented_range_is_refused_before_any_call(
    client: TemporaryCredentialsClient, duration: int
) -> None:
    with pytest.raises(ConfigurationError):
        client.issue(duration_seconds=duration)


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("https://iam.eu-de.otc.t-systems.com/v3", URL),
        ("https://iam.eu-de.otc.t-systems.com/v3/", URL),
        ("https://iam.myhuaweicloud.com", "https://iam.myhuaweicloud.com/v3.0/OS-CREDENTIAL/securitytokens"),
    ],
)
def test_url_is_on_the_iam_host(endpoint: str, url: str) -> None:
    assert security_tokens_url(endpoint) == url


# --- against the emulator ----------------------------------------------------------------------


def test_emulator_issues_credentials_that_expire_in_15_minutes(
    credentials_client: TemporaryCredentialsClient, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = credentials_client.issue(policy=bucket_access_policy("ims-export-demo"))

    assert credentials.seconds_left(datetime.fromtimestamp(emulator.control.now(), UTC)) == 900
    assert emulator.control.obs.credentials_issued == 1
    for secret in all_secrets(credentials):
        assert secret not in caplog.text


def test_emulator_user_without_permission_gets_the_named_error(
    credentials_client: TemporaryCredentialsClient, emulator: Emulator
) -> None:
    emulator.control.obs.set_credentials(denied=True)
    with pytest.raises(TemporaryCredentialsDeniedError):
        credentials_client.issue()
    assert emulator.control.obs.credentials_issued == 0


def test_emulated_cloud_without_policy_support(
    credentials_client: TemporaryCredentialsClient, emulator: Emulator
) -> None:
    emulator.control.obs.set_credentials(policy_refused=True)
    with pytest.raises(TemporaryCredentialsDeniedError, match="narrowing"):
        credentials_client.issue(policy=bucket_access_policy("ims-export-demo"))
    assert credentials_client.issue().access_key_id, "without the policy the same cloud answers"


def test_emulator_5xx_then_success(
    credentials_client: TemporaryCredentialsClient, emulator: Emulator
) -> None:
    emulator.control.obs.inject("iam_security_tokens", "service_unavailable")
    with pytest.raises(UpstreamUnavailableError):
        credentials_client.issue()
    assert credentials_client.issue().access_key_id
    assert emulator.control.obs.requests("iam_security_tokens") == 2
