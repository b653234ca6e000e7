"""The IAM password and the token in no form -- raw, JSON-escaped, URL-encoded, base64 -- in any error,
log line, history event or outcome, whatever IAM or IMS echo back."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from contextlib import suppress
from typing import Any
from urllib.parse import quote, quote_plus

import boto3
import pytest
import requests
import responses
from aws_lambda_powertools.utilities.parameters import SSMProvider
from moto import mock_aws

from ims_export import runtime
from ims_export.auth.credentials import load_credentials
from ims_export.cloud.http import new_session
from ims_export.cloud.iam import IamClient
from ims_export.cloud.ims_errors import error_from_response
from ims_export.cloud.redaction import WITHHELD, encodings, redact
from ims_export.domain.credentials import Credentials
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import AuthenticationError, ImsExportError
from localdev.lambda_handlers import load_function_module
from tests.reliability.conftest import local_workflow
from tests.workflow.conftest import BUS, FUNCTIONS, TOPIC
from tests.workflow.fakes import BUCKET, IMAGE_ID, FakeIms, FakeTokens, make_clients, make_image

IAM = "https://iam.eu-de.example.test/v3"
PASSWORDS = ['pa"ss\\wörd-Ünïcode-42', '"', "\\", "é", "e", "a quote ' and a slash /"]
MANUAL = {"image_id": IMAGE_ID, "bucket_url": f"{BUCKET}:exports/x.qcow2", "file_format": "qcow2"}


def forms(secret: str) -> set[str]:
    """What a leak may look like, independently of ``redaction.encodings``."""
    encoded = secret.encode()
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(encoded).decode(),
    }


def decoded_runs(text: str) -> Iterator[bytes]:
    """Every base64 run of ``text`` decoded, at every alignment: a short secret hides in there."""
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}", text):
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            with suppress(ValueError):
                yield base64.b64decode(chunk.replace("-", "+").replace("_", "/"))


def assert_nowhere(secret: str, text: str) -> None:
    for form in forms(secret):
        if len(form) >= 3:
            assert form not in text, f"{form!r} leaked"
    if len(secret) >= 3:
        assert not any(secret.encode() in decoded for decoded in decoded_runs(text)), "base64 echo leaked"


def iam_request_body(password: str) -> str:
    credentials = Credentials(user_name="ims-export", password=password, domain_name="OTC-EU-DE-1")
    body = {
        "auth": {"identity": {"password": {"user": {"name": credentials.user_name, "password": password}}}}
    }
    return json.dumps(body)


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("status", [400, 401, 500])
@pytest.mark.parametrize(
    "echo",
    [
        lambda body: body,
        quote,
        lambda body: base64.b64encode(body.encode()).decode(),
        lambda body: "x" + base64.b64encode(("?" + body).encode()).decode(),  # at another alignment
    ],
    ids=["json", "url-encoded", "base64", "base64-shifted"],
)
def test_iam_echoing_the_request_never_puts_the_password_into_the_error(
    password: str, status: int, echo: Any
) -> None:
    client = IamClient(IAM, new_session(), (1.0, 1.0))
    credentials = Credentials(
        user_name="ims-export", password=password, domain_name="OTC-EU-DE-1", project_name="eu-de"
    )
    with responses.RequestsMock() as mock:

        def echo_back(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            sent = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
            message = f"The username or password is wrong. Request was: {echo(sent)}"
            return status, {}, json.dumps({"error": {"code": status, "message": message}})

        mock.add_callback(responses.POST, f"{IAM}/auth/tokens", callback=echo_back)
        with pytest.raises(ImsExportError) as raised:
            client.issue_token(credentials)

    shown = json.dumps([str(raised.value), vars(raised.value)], ensure_ascii=False, default=str)
    assert_nowhere(password, shown)
    assert_nowhere(password, json.dumps([str(raised.value)]))  # and JSON-escaped once more
    if len(password) < 3:  # too short to search for: no text that may hold it is shown at all
        assert WITHHELD in str(raised.value) or not re.search(r"[A-Za-z0-9+/=%_-]{24,}", str(raised.value))
        assert "Request was: {" not in str(raised.value)


def test_masking_never_shows_where_the_letters_of_a_short_password_are() -> None:
    text = "The username or password is wrong."

    assert redact(text, ["e"]) == WITHHELD
    assert redact(text, ["zz-not-in-it"]) == text
    assert redact(f"token {'x' * 20} and more", ["q"]) == f"token {'x' * 20} and more"


def test_token_fragments_of_sixteen_characters_or_more_are_redacted() -> None:
    token = "MIIDdjCCAl6gAwIBAgIJAO" + "k" * 200 + "TAIL-of-the-token-value"
    response = requests.Response()
    response.status_code = 400
    response._content = json.dumps(
        {"error": {"code": "IMG.0001", "message": f"bad token {token[:120]}..."}}
    ).encode()

    error = error_from_response(response, operation="export", secrets=(token,))

    assert token[:16] not in str(error)
    assert token[100:116] not in str(error)
    assert "IMG.0001" in str(error)
    assert redact(f"tail: {token[-16:]}", [token]) == "tail: ***"
    assert redact(f"short: {token[:15]}", [token]) == f"short: {token[:15]}"  # 15 characters prove nothing


def test_every_form_the_redaction_knows_is_found_by_the_test_too() -> None:
    for password in PASSWORDS:
        assert {form for form in forms(password)} <= encodings(password)


@pytest.fixture
def root_at_debug() -> Iterator[list[str]]:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    root = logging.getLogger()
    handler, level = Collect(level=logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("botocore").setLevel(logging.DEBUG)  # as a debugging user might
    yield records
    root.removeHandler(handler)
    root.setLevel(level)


def test_botocore_and_urllib3_stay_at_warning_in_the_functions_whatever_the_log_level(
    root_at_debug: list[str],
) -> None:
    password = 'pa"ss\\wörd-Ünïcode-42'
    load_function_module(FUNCTIONS["StartExportFunction"]).quiet_sdk_loggers()
    with mock_aws():
        ssm = boto3.client("ssm", region_name="eu-central-1")
        ssm.put_parameter(
            Name="/c",
            Type="SecureString",
            Value=json.dumps({"user_name": "u", "password": password, "domain_name": "d"}),
        )
        load_credentials(SSMProvider(boto3_client=ssm), "/c")

    for name in ("botocore", "botocore.endpoint", "botocore.parsers", "urllib3", "boto3"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
    assert_nowhere(password, "\n".join(root_at_debug))


class IamBackedTokens(FakeTokens):
    """A token source that asks the real IAM client (against an echoing IAM) for every token."""

    def __init__(self, password: str) -> None:
        super().__init__()
        self.credentials = Credentials(
            user_name="u", password=password, domain_name="d", project_name="eu-de"
        )
        self.iam = IamClient(IAM, new_session(), (1.0, 1.0))

    def current(self) -> IssuedToken:
        return self.iam.issue_token(self.credentials)


@pytest.mark.slow
@pytest.mark.parametrize("password", PASSWORDS)
def test_the_password_is_in_no_history_event_or_outcome(password: str, start_app: Any) -> None:
    del start_app
    tokens = IamBackedTokens(password)
    ims = FakeIms(tokens=tokens)
    ims.add_image(make_image())
    with runtime.use_clients(make_clients(ims)), local_workflow() as workflow:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.add_callback(
                responses.POST,
                f"{IAM}/auth/tokens",
                callback=lambda request: (
                    401,
                    {},
                    json.dumps({"error": {"message": f"wrong: {request.body!r}"}}),
                ),
            )
            result = workflow.wait_for(workflow.start_execution(MANUAL))
        history = json.dumps(workflow.history(result.arn), default=str, ensure_ascii=False)
        published = json.dumps(
            [workflow.published_events(BUS), workflow.topic_messages(TOPIC)], ensure_ascii=False
        )

    assert result.error == AuthenticationError.__name__
    for text in (history, published, result.cause or ""):
        assert_nowhere(password, text)
