"""The token read through the Parameters and Secrets Lambda Extension's local endpoint.

A fake extension on 127.0.0.1 answers from moto's SSM, as the real one answers from SSM with its cache
off (template.yaml): what a refresh writes, the next read sees.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from aws_lambda_powertools.utilities.parameters import SSMProvider
from pydantic import SecretStr

from ims_export.auth.cache import TokenCache
from ims_export.auth.codec import decode_record, encode_record
from ims_export.auth.parameter_store import (
    EXTENSION_PORT_VARIABLE,
    EXTENSION_TOKEN_HEADER,
    ExtensionParameterReader,
    PowertoolsParameterReader,
    token_reader_from_env,
)
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import UpstreamThrottledError
from tests.auth.conftest import TOKEN_PARAMETER, CacheFactory, FakeIam
from tests.auth.fakes import NOW, PROJECT_ID, FakeClock

SESSION_TOKEN = "session-token-of-this-environment"
SECRET_IN_BODY = "echoed-secret-value"


class _Extension(BaseHTTPRequestHandler):
    ssm_client: ClassVar[Any] = None
    # A canned failure (status, body) instead of SSM's answer, when set.
    failure: ClassVar[tuple[int, str] | None] = None
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def _reply(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.requests.append(
            {"path": url.path, "query": query, "token": self.headers.get(EXTENSION_TOKEN_HEADER)}
        )
        if self.failure is not None:
            self._reply(*self.failure)
            return
        try:
            answer = self.ssm_client.get_parameter(
                Name=query["name"], WithDecryption=query["withDecryption"] == "true"
            )
        except self.ssm_client.exceptions.ParameterNotFound:
            self._reply(400, "ParameterNotFound: parameter not found")
            return
        parameter = {key: str(value) for key, value in answer["Parameter"].items()}
        self._reply(200, json.dumps({"Parameter": parameter, "ResultMetadata": {}}))


@pytest.fixture
def extension(ssm_client: Any) -> Iterator[type[_Extension]]:
    handler = type("Extension", (_Extension,), {"ssm_client": ssm_client, "failure": None, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.port = server.server_address[1]  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_iam(iam_mock: responses.RequestsMock, clock: FakeClock) -> FakeIam:
    iam_mock.add_passthru("http://localhost")  # the extension is real HTTP on loopback
    return FakeIam(iam_mock, clock)


class NoSsmClient:
    """Fails the test if the cache touches Powertools' SSM (and so would create a boto3 client)."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read through SSM, not the extension")

    def set(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("written without a refresh being due")


def valid_token() -> IssuedToken:
    return IssuedToken(
        value=SecretStr("a-valid-cached-token"),
        expires_at=NOW + timedelta(hours=20),
        project_id=PROJECT_ID,
    )


def extension_reader(
    port: int, fallback: Any, session_token: str = SESSION_TOKEN
) -> ExtensionParameterReader:
    return ExtensionParameterReader(
        port,
        (1.0, 5.0),
        fallback=PowertoolsParameterReader(fallback),
        environ={"AWS_SESSION_TOKEN": session_token} if session_token else {},
    )


def through_extension(make_cache: CacheFactory, port: int, provider: Any) -> TokenCache:
    """A cache reading the token through the extension at ``port``, with ``provider`` as its SSM."""
    return make_cache(provider=provider, token_reader=extension_reader(port, provider))


def test_a_valid_cached_token_is_read_through_the_extension_without_ssm(
    extension: Any, ssm_client: Any, fake_iam: FakeIam, make_cache: CacheFactory
) -> None:
    token = valid_token()
    ssm_client.put_parameter(Name=TOKEN_PARAMETER, Value=encode_record(token).value, Type="SecureString")
    no_ssm = NoSsmClient()

    assert through_extension(make_cache, extension.port, no_ssm).current() == token

    assert fake_iam.calls == 0
    (request,) = extension.requests
    assert request == {
        "path": "/systemsmanager/parameters/get",
        "query": {"name": TOKEN_PARAMETER, "withDecryption": "true"},
        "token": SESSION_TOKEN,
    }


def test_a_missing_token_is_refreshed_written_through_ssm_and_seen_by_the_next_cold_start(
    extension: Any,
    ssm_client: Any,
    fake_iam: FakeIam,
    make_cache: CacheFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ims_export")
    ssm = SSMProvider(boto3_client=ssm_client)

    first = through_extension(make_cache, extension.port, ssm).current()
    no_ssm = NoSsmClient()
    second = through_extension(make_cache, extension.port, no_ssm).current()

    assert fake_iam.calls == 1
    assert first == second
    stored = ssm_client.get_parameter(Name=TOKEN_PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    assert decode_record(stored).value == first.value
    assert caplog.text == ""  # a missing parameter is normal, not worth a warning


@pytest.mark.parametrize(
    "failure",
    [
        (400, "ThrottlingException: Rate exceeded"),
        (429, "Too many requests"),
        (400, "TooManyRequestsException"),
    ],
)
def test_a_throttled_read_is_transient_and_asks_no_iam(
    extension: Any, fake_iam: FakeIam, make_cache: CacheFactory, failure: tuple[int, str]
) -> None:
    extension.failure = failure
    no_ssm = NoSsmClient()

    with pytest.raises(UpstreamThrottledError) as raised:
        through_extension(make_cache, extension.port, no_ssm).current()

    assert fake_iam.calls == 0
    assert TOKEN_PARAMETER in raised.value.message


def test_an_error_answer_is_logged_by_its_status_only_and_the_token_refreshed(
    extension: Any,
    ssm_client: Any,
    fake_iam: FakeIam,
    make_cache: CacheFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ims_export")
    extension.failure = (500, f"internal error while reading {SECRET_IN_BODY}")
    ssm = SSMProvider(boto3_client=ssm_client)

    token = through_extension(make_cache, extension.port, ssm).current()

    assert fake_iam.calls == 1
    assert "HTTP 500" in caplog.text
    assert SECRET_IN_BODY not in caplog.text
    assert token.value.get_secret_value() not in caplog.text


def test_an_answer_without_a_value_counts_as_empty(
    extension: Any, ssm_client: Any, fake_iam: FakeIam, make_cache: CacheFactory
) -> None:
    extension.failure = (200, json.dumps({"Parameter": {"Name": TOKEN_PARAMETER}}))
    ssm = SSMProvider(boto3_client=ssm_client)

    through_extension(make_cache, extension.port, ssm).current()

    assert fake_iam.calls == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("extension_answers", [False, True])
def test_an_unreachable_extension_or_no_session_token_reads_through_ssm(  # noqa: PLR0917 - pytest fixtures
    extension: Any,
    ssm_client: Any,
    fake_iam: FakeIam,
    make_cache: CacheFactory,
    caplog: pytest.LogCaptureFixture,
    extension_answers: bool,
) -> None:
    caplog.set_level(logging.WARNING, logger="ims_export")
    token = valid_token()
    ssm_client.put_parameter(Name=TOKEN_PARAMETER, Value=encode_record(token).value, Type="SecureString")
    ssm = SSMProvider(boto3_client=ssm_client)
    reader = (
        extension_reader(extension.port, ssm, session_token="")
        if extension_answers
        else extension_reader(free_port(), ssm)
    )

    assert make_cache(provider=ssm, token_reader=reader).current() == token

    assert fake_iam.calls == 0
    assert extension.requests == []
    if not extension_answers:
        assert "parameters extension unreachable" in caplog.text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({EXTENSION_PORT_VARIABLE: "2773"}, ExtensionParameterReader),
        ({}, PowertoolsParameterReader),
        ({EXTENSION_PORT_VARIABLE: ""}, PowertoolsParameterReader),
        ({EXTENSION_PORT_VARIABLE: "not-a-port"}, PowertoolsParameterReader),
        ({EXTENSION_PORT_VARIABLE: "70000"}, PowertoolsParameterReader),
    ],
)
def test_the_extension_is_used_where_its_port_is_configured(environ: dict[str, str], expected: type) -> None:
    assert type(token_reader_from_env(NoSsmClient(), (1.0, 2.0), environ)) is expected
