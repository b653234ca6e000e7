"""Shared pieces of the IMS client tests: a fake token source and a mocked IMS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import responses
from pydantic import SecretStr

from ims_export.cloud.http import new_session
from ims_export.cloud.ims import ImsClient
from ims_export.domain.tokens import IssuedToken

IMS = "https://ims.eu-de.otc.t-systems.com"
PROJECT_ID = "0123456789abcdef0123456789abcdef"
FIRST_TOKEN = "MIIfirst-secret-token-" + "A" * 40
SECOND_TOKEN = "MIIsecond-secret-token-" + "B" * 40
TIMEOUT = (0.5, 0.5)


def issued(value: str, *, ims_endpoint: str | None = None) -> IssuedToken:
    return IssuedToken(
        value=SecretStr(value),
        expires_at=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=24),
        project_id=PROJECT_ID,
        ims_endpoint=ims_endpoint,
    )


class FakeTokens:
    """A TokenSource that hands out a fixed sequence of tokens, moving on at each invalidate()."""

    def __init__(self, *values: str, ims_endpoint: str | None = None) -> None:
        self.tokens = [issued(value, ims_endpoint=ims_endpoint) for value in values or (FIRST_TOKEN,)]
        self.position = 0
        self.invalidated: list[IssuedToken] = []

    def current(self) -> IssuedToken:
        return self.tokens[min(self.position, len(self.tokens) - 1)]

    def invalidate(self, token: IssuedToken) -> None:
        self.invalidated.append(token)
        self.position += 1


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens(FIRST_TOKEN, SECOND_TOKEN)


@pytest.fixture
def ims_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def client(tokens: FakeTokens) -> ImsClient:
    return ImsClient(tokens, new_session(), TIMEOUT, endpoint=IMS)
