"""Shared pieces of the OBS tests: fixed temporary credentials, a fake token source, the emulator
with a real IAM token, and clients built on them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from ims_export.cloud.http import new_session
from ims_export.cloud.iam import IamClient
from ims_export.cloud.obs import ObsClient
from ims_export.cloud.temporary_credentials import TemporaryCredentials, TemporaryCredentialsClient
from ims_export.domain.credentials import Credentials
from ims_export.domain.tokens import IssuedToken
from ims_export.settings import Cloud
from localdev.emulator import DEFAULT_BUCKET, Emulator, EmulatorConfig, ManualClock
from tests.faults.secrets_collector import SecretsCollector

ACCESS_KEY = "NQC51NFINJS1JXXEXAMPL"
SECRET_KEY = "EY74MByPZ46kTRJL9ay5DskqXXsecret0000000000"
SECURITY_TOKEN = "gAAAAABY9GbWUaGtoa9DPj7_dE4qUSnAXXX" + "t0k3n" * 40
IAM_TOKEN = "MIIobs-tests-iam-token-" + "Q" * 60
NOW = datetime(2025, 1, 6, 8, 30, tzinfo=UTC)
TIMEOUT = (2.0, 5.0)
OTHER_BUCKET = "other-bucket"


def unused_loopback_port() -> int:
    """A loopback port that nobody listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fixed_credentials(expires_at: datetime = NOW + timedelta(minutes=15)) -> TemporaryCredentials:
    return TemporaryCredentials(
        access_key_id=ACCESS_KEY,
        secret_access_key=SecretStr(SECRET_KEY),
        security_token=SecretStr(SECURITY_TOKEN),
        expires_at=expires_at,
    )


def all_secrets(credentials: TemporaryCredentials) -> tuple[str, str]:
    return credentials.secret_access_key.get_secret_value(), credentials.security_token.get_secret_value()


class StaticTokens:
    """A TokenSource over a list of tokens: ``invalidate`` moves on to the next one."""

    def __init__(self, *tokens: IssuedToken) -> None:
        self.tokens = list(tokens)
        self.invalidated: list[IssuedToken] = []

    def current(self) -> IssuedToken:
        return self.tokens[min(len(self.invalidated), len(self.tokens) - 1)]

    def invalidate(self, token: IssuedToken) -> None:
        self.invalidated.append(token)


def issued(value: str = IAM_TOKEN) -> IssuedToken:
    return IssuedToken(value=SecretStr(value), expires_at=NOW + timedelta(hours=24), project_id="p" * 32)


@pytest.fixture(autouse=True)
def _fixed_secrets_are_secrets(secrets_collector: SecretsCollector) -> None:
    """The fixed secrets of these tests must not appear in any log record either."""
    secrets_collector.register(SECRET_KEY, "fixed temporary secret key")
    secrets_collector.register(SECURITY_TOKEN, "fixed security token")
    secrets_collector.register(IAM_TOKEN, "fixed IAM token")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(buckets=(DEFAULT_BUCKET, OTHER_BUCKET)), clock) as running:
        yield running


@pytest.fixture
def emulator_tokens(emulator: Emulator) -> StaticTokens:
    """A real IAM token of the emulator."""
    config = emulator.config
    credentials = Credentials(
        user_name=config.user_name, password=SecretStr(config.user_password), domain_name=config.domain_name
    )
    token = IamClient(emulator.iam_url, new_session(), TIMEOUT).issue_token(credentials, project_name="eu-de")
    return StaticTokens(token)


@pytest.fixture
def credentials_client(emulator: Emulator, emulator_tokens: StaticTokens) -> TemporaryCredentialsClient:
    return TemporaryCredentialsClient(emulator_tokens, emulator.iam_url, new_session(), TIMEOUT)


def obs_client_for(emulator: Emulator, credentials: TemporaryCredentials) -> ObsClient:
    return ObsClient(
        credentials, new_session(), TIMEOUT, cloud=Cloud.OTC, region="eu-de", endpoint=emulator.obs_url
    )
