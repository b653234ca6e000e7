"""Fixtures of the auth tests: moto SSM and DynamoDB, a fake IAM on ``responses``, a token cache factory."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import responses
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.parameters import SSMProvider
from moto import mock_aws

from ims_export.auth.cache import TokenCache
from ims_export.auth.credentials import load_credentials
from ims_export.auth.parameter_store import ParameterReader
from ims_export.auth.refresh_lock import IdempotencyRefreshLock, RefreshLock
from ims_export.cloud.http import new_session
from ims_export.cloud.iam import IamClient
from ims_export.settings import Settings
from tests.auth.fakes import IAM_ENDPOINT, PASSWORD, TOKENS_URL, FakeClock, SsmLimits, token_body

CREDENTIALS_PARAMETER = "/test/ims-export/credentials"
TOKEN_PARAMETER = "/test/ims-export/token"
IDEMPOTENCY_TABLE = "test-idempotency"


def small_token(number: int) -> str:
    """A token that fits the Standard tier once encoded, different for every ``number``."""
    return base64.b64encode(f"token number {number:06d};".encode() * 80).decode()


class FakeIam:
    """IAM's token API on ``responses``: counts calls and issues a new 24 h token each time."""

    def __init__(
        self,
        mock: responses.RequestsMock,
        clock: FakeClock,
        *,
        token_factory: Callable[[int], str] = small_token,
        delay_seconds: float = 0.0,
    ) -> None:
        self.clock = clock
        self.token_factory = token_factory
        self.delay_seconds = delay_seconds
        self.calls = 0
        self.issued: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        mock.add_callback(responses.POST, TOKENS_URL, callback=self._answer)

    def _answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self._lock:
            self.calls += 1
            number = self.calls
            self.bodies.append(json.loads(request.body))
        if self.delay_seconds:
            time.sleep(self.delay_seconds)  # widens the race window of concurrent refreshers
        value = self.token_factory(number)
        with self._lock:
            self.issued.append(value)
        body = token_body(self.clock() + timedelta(hours=24))
        return 201, {"X-Subject-Token": value}, json.dumps(body)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def ssm_limits() -> SsmLimits:
    return SsmLimits()


@pytest.fixture
def ssm_client(aws: None, ssm_limits: SsmLimits) -> Any:
    client = boto3.client("ssm", region_name="eu-central-1")
    ssm_limits.install(client)
    client.put_parameter(
        Name=CREDENTIALS_PARAMETER,
        Type="SecureString",
        Value=json.dumps({"user_name": "ims-export", "password": PASSWORD, "domain_name": "OTC-EU-DE-1"}),
    )
    return client


def create_lock_table(client: Any) -> None:
    """The idempotency table as the stack defines it: partition key ``id`` (string)."""
    client.create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def dynamodb_client(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="eu-central-1")
    create_lock_table(client)
    return client


@pytest.fixture
def settings() -> Settings:
    return Settings(
        iam_endpoint=IAM_ENDPOINT,
        project_name="eu-de",
        credentials_parameter=CREDENTIALS_PARAMETER,
        token_parameter=TOKEN_PARAMETER,
        token_refresh_margin_seconds=3600,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def iam_mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def fake_iam(iam_mock: responses.RequestsMock, clock: FakeClock) -> FakeIam:
    return FakeIam(iam_mock, clock)


class Sleeper:
    """Records the waits asked for; really sleeps ``scale`` times as long so other threads can progress."""

    def __init__(self, scale: float = 0.0) -> None:
        self.waits: list[float] = []
        self.scale = scale
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
        if self.scale:
            time.sleep(seconds * self.scale)


CacheFactory = Callable[..., TokenCache]


def dynamodb_lock(dynamodb_client: Any) -> IdempotencyRefreshLock:
    persistence = DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=dynamodb_client)
    return IdempotencyRefreshLock(persistence, scope=TOKEN_PARAMETER)


@pytest.fixture
def make_cache(ssm_client: Any, settings: Settings, clock: FakeClock) -> CacheFactory:
    """A TokenCache of its own "process": its own SSMProvider (so its own Powertools cache)."""

    def build(
        *,
        refresh_lock: RefreshLock | None = None,
        sleep: Callable[[float], None] | None = None,
        client: Any = None,
        cache_settings: Settings | None = None,
        provider: Any = None,
        token_reader: ParameterReader | None = None,
    ) -> TokenCache:
        ssm = provider or SSMProvider(boto3_client=client or ssm_client)
        chosen = cache_settings or settings
        return TokenCache(
            chosen,
            iam=IamClient(chosen.iam_endpoint, new_session(), (1.0, 2.0)),
            ssm=ssm,
            credentials_loader=lambda: load_credentials(ssm, chosen.credentials_parameter),
            token_reader=token_reader,
            refresh_lock=refresh_lock,
            clock=clock,
            sleep=sleep or Sleeper(),
        )

    return build
