"""Tokens of any lifetime and clocks that disagree with IAM's: one IAM call per refresh period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.exceptions import ClientError
from pydantic import SecretStr

from ims_export.auth.cache import TokenCache
from ims_export.auth.credentials import load_credentials
from ims_export.cloud.http import new_session
from ims_export.cloud.iam import IamClient
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import TransientError, UpstreamThrottledError, UpstreamUnavailableError
from tests.auth.conftest import CREDENTIALS_PARAMETER, TOKEN_PARAMETER, CacheFactory, small_token
from tests.auth.fakes import IAM_ENDPOINT, NOW, TOKENS_URL, FakeClock, token_body


def token(lifetime: timedelta, *, skew: timedelta = timedelta(0), received: datetime = NOW) -> IssuedToken:
    """A token IAM issued at ``received + skew`` (IAM's clock) that arrived here at ``received``."""
    issued = received + skew
    return IssuedToken(
        value=SecretStr("t"),
        expires_at=issued + lifetime,
        project_id="p",
        issued_at=issued,
        received_at=received,
    )


def test_the_margin_is_capped_at_a_quarter_of_the_lifetime() -> None:
    assert token(timedelta(minutes=30)).refresh_margin(3600) == 450
    assert token(timedelta(hours=24)).refresh_margin(3600) == 3600


def test_a_short_token_is_used_for_most_of_its_life() -> None:
    short = token(timedelta(minutes=30))
    assert not short.needs_refresh(3600, NOW + timedelta(minutes=22))
    assert short.needs_refresh(3600, NOW + timedelta(minutes=23))


@pytest.mark.parametrize("skew", [timedelta(hours=-2), timedelta(hours=3)])
def test_validity_is_judged_on_the_clock_of_iam(skew: timedelta) -> None:
    skewed = token(timedelta(minutes=30), skew=skew)
    assert skewed.seconds_left(NOW + timedelta(minutes=10)) == pytest.approx(20 * 60)
    assert not skewed.needs_refresh(3600, NOW + timedelta(minutes=10))


def test_without_issued_at_the_local_clock_decides() -> None:
    plain = IssuedToken(value=SecretStr("t"), expires_at=NOW + timedelta(hours=1), project_id="p")
    assert plain.seconds_left(NOW) == 3600
    assert plain.refresh_margin(3600) == 3600


class ShortIam:
    """IAM issuing tokens of ``lifetime``, stating times on a clock ``skew`` off the local one."""

    def __init__(self, mock: responses.RequestsMock, clock: FakeClock, lifetime: timedelta, skew: timedelta):
        self.calls = 0
        self.clock, self.lifetime, self.skew = clock, lifetime, skew
        mock.add_callback(responses.POST, TOKENS_URL, callback=self._answer)

    def _answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.calls += 1
        issued = self.clock() + self.skew
        body = token_body(issued + self.lifetime)
        body["token"]["issued_at"] = issued.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return 201, {"X-Subject-Token": small_token(self.calls)}, json.dumps(body)


@pytest.mark.parametrize("skew", [timedelta(0), timedelta(hours=-1)])
def test_a_30_minute_token_costs_one_iam_call_per_refresh_period(
    make_cache: CacheFactory, iam_mock: responses.RequestsMock, clock: FakeClock, skew: timedelta
) -> None:
    iam = ShortIam(iam_mock, clock, timedelta(minutes=30), skew)
    cache = make_cache()

    for _ in range(20):  # one use a minute for 20 minutes
        cache.current()
        clock.advance(60)
    assert iam.calls == 1
    for _ in range(20):  # past the capped margin: one refresh
        cache.current()
        clock.advance(60)
    assert iam.calls == 2


def test_iam_201_without_the_token_header_is_transient(iam_mock: responses.RequestsMock) -> None:
    iam_mock.add(responses.POST, TOKENS_URL, status=201, json=token_body(NOW + timedelta(hours=24)))
    client = IamClient(IAM_ENDPOINT, new_session(), (1.0, 1.0))
    with pytest.raises(UpstreamUnavailableError, match="X-Subject-Token") as raised:
        client.issue_token(load_credentials_stub())
    assert isinstance(raised.value, TransientError)


def load_credentials_stub() -> Any:
    from ims_export.domain.credentials import Credentials

    return Credentials(
        user_name="u", password=SecretStr("pw-not-shown"), domain_name="d", project_name="eu-de"
    )


def throttle_first_read_of(provider: Any, name: str) -> None:
    original = provider._get
    throttled: list[str] = []

    def get(parameter: str, *args: Any, **kwargs: Any) -> Any:
        if parameter == name and not throttled:
            throttled.append(parameter)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate"}}, "GetParameter")
        return original(parameter, *args, **kwargs)

    provider._get = get


def test_a_throttled_credentials_read_is_transient(ssm_client: Any) -> None:
    provider = SSMProvider(boto3_client=ssm_client)
    throttle_first_read_of(provider, CREDENTIALS_PARAMETER)
    with pytest.raises(UpstreamThrottledError, match="throttled"):
        load_credentials(provider, CREDENTIALS_PARAMETER)
    assert load_credentials(provider, CREDENTIALS_PARAMETER).user_name == "ims-export"


def test_a_throttled_token_cache_read_is_transient_and_asks_no_iam(
    make_cache: CacheFactory, fake_iam: Any, ssm_client: Any
) -> None:
    cache: TokenCache = make_cache()
    throttle_first_read_of(cache._ssm, TOKEN_PARAMETER)
    with pytest.raises(UpstreamThrottledError):
        cache.current()
    assert fake_iam.calls == 0
    cache.current()
    assert fake_iam.calls == 1


def test_the_token_cache_record_keeps_the_times_iam_stated() -> None:
    from ims_export.auth.codec import decode_record, encode_record

    stated = token(timedelta(minutes=30), skew=timedelta(hours=-1)).model_copy(
        update={"value": SecretStr(small_token(1))}
    )
    assert decode_record(encode_record(stated).value) == stated
    assert stated.received_at is not None
    assert stated.received_at.tzinfo is UTC
