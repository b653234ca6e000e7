from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from ims_export.auth.cache import token_cache_from_settings
from ims_export.auth.codec import decode_record, encode_record
from ims_export.auth.refresh_lock import LockOutcome, LockResult, RefreshMetadata, dynamodb_refresh_lock
from ims_export.cloud.http import new_session
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import (
    AuthenticationError,
    TokenRefreshInProgressError,
    TokenTooLargeError,
    TransientError,
)
from ims_export.settings import Settings
from tests.auth.conftest import (
    IDEMPOTENCY_TABLE,
    TOKEN_PARAMETER,
    CacheFactory,
    FakeIam,
    Sleeper,
    create_lock_table,
    dynamodb_lock,
    small_token,
)
from tests.auth.fakes import (
    NOW,
    PASSWORD,
    PROJECT_ID,
    ApiCalls,
    FakeClock,
    SsmLimits,
    pki_token,
    random_token,
)

MARGIN = 3600


def stored(ssm_client: Any) -> IssuedToken:
    value = ssm_client.get_parameter(Name=TOKEN_PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    return decode_record(value)


def stored_tier(ssm_client: Any) -> str:
    (parameter,) = ssm_client.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [TOKEN_PARAMETER]}]
    )["Parameters"]
    return str(parameter["Tier"])


def put_token(ssm_client: Any, value: str, *, expires_in: timedelta = timedelta(hours=20)) -> IssuedToken:
    token = IssuedToken(value=SecretStr(value), expires_at=NOW + expires_in, project_id=PROJECT_ID)
    encoded = encode_record(token)
    ssm_client.put_parameter(
        Name=TOKEN_PARAMETER, Value=encoded.value, Type="SecureString", Tier=encoded.tier, Overwrite=True
    )
    return token


# --- cold start, warm reuse, other processes ------------------------------------------------------


def test_cold_start_gets_a_token_from_iam_and_stores_it(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any
) -> None:
    cache = make_cache()
    token = cache.current()

    assert fake_iam.calls == 1
    assert cache.refreshes == 1  # what the handlers report as the TokenRefreshed metric
    assert token.value.get_secret_value() == fake_iam.issued[0]
    assert token.project_id == PROJECT_ID
    assert stored(ssm_client) == token
    assert stored_tier(ssm_client) == "Standard"
    assert fake_iam.bodies[0]["auth"]["scope"] == {"project": {"name": "eu-de"}}


@pytest.mark.parametrize(
    ("configured_key", "expected_key"),
    [(None, "alias/aws/ssm"), ("arn:aws:kms:eu-central-1:123456789012:key/1234abcd", "key/1234abcd")],
)
def test_the_token_is_encrypted_with_the_configured_key(
    make_cache: CacheFactory,
    *,
    fake_iam: FakeIam,
    ssm_client: Any,
    settings: Settings,
    configured_key: str | None,
    expected_key: str,
) -> None:
    make_cache(cache_settings=settings.model_copy(update={"kms_key_id": configured_key})).current()
    assert fake_iam.calls == 1
    described = ssm_client.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [TOKEN_PARAMETER]}]
    )["Parameters"][0]
    assert described["KeyId"].endswith(expected_key)


def test_warm_invocation_reuses_the_token_without_any_call(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any
) -> None:
    cache = make_cache()
    first = cache.current()
    calls = ApiCalls(ssm_client)

    assert cache.current() is first
    assert calls.total() == 0
    assert fake_iam.calls == 1


def test_another_process_takes_the_stored_token(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any
) -> None:
    first = make_cache().current()
    calls = ApiCalls(ssm_client)

    second = make_cache().current()

    assert second == first
    assert fake_iam.calls == 1
    assert calls.counts == {"GetParameter": 1}


def test_missing_parameter_is_an_empty_cache(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ims_export")
    make_cache().current()
    assert fake_iam.calls == 1
    assert caplog.text == ""  # an empty cache is normal, not worth a warning


@pytest.mark.parametrize(
    "value", ["not a record", json.dumps({"version": 1, "token": "??"}), json.dumps({"version": 9})]
)
def test_corrupt_record_is_replaced(
    make_cache: CacheFactory,
    fake_iam: FakeIam,
    ssm_client: Any,
    caplog: pytest.LogCaptureFixture,
    value: str,
) -> None:
    ssm_client.put_parameter(Name=TOKEN_PARAMETER, Value=value, Type="SecureString")
    caplog.set_level(logging.WARNING, logger="ims_export")

    token = make_cache().current()

    assert fake_iam.calls == 1
    assert stored(ssm_client) == token
    assert "replaced" in caplog.text


def test_record_of_another_project_is_not_used(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, settings: Settings
) -> None:
    put_token(ssm_client, small_token(900))  # project PROJECT_ID
    other_project = settings.model_copy(update={"project_id": "f" * 32})
    make_cache(cache_settings=other_project).current()
    assert fake_iam.calls == 1
    assert fake_iam.bodies[0]["auth"]["scope"] == {"project": {"id": "f" * 32}}


# --- the refresh margin ---------------------------------------------------------------------------


def test_refresh_happens_at_the_margin_and_not_before(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, clock: FakeClock
) -> None:
    cache = make_cache()
    first = cache.current()  # valid 24 h

    clock.advance(24 * 3600 - MARGIN - 1)  # one second more than the margin left
    assert cache.current() is first
    assert fake_iam.calls == 1

    clock.advance(1)  # exactly the margin left: refresh
    second = cache.current()
    assert fake_iam.calls == 2
    assert second != first
    assert stored(ssm_client) == second
    assert second.expires_at == clock() + timedelta(hours=24)


def test_stale_stored_token_is_refreshed_by_a_new_process(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any
) -> None:
    old = put_token(ssm_client, small_token(800), expires_in=timedelta(seconds=MARGIN - 10))
    token = make_cache().current()
    assert fake_iam.calls == 1
    assert token != old


# --- invalidate -------------------------------------------------------------------------------------


def test_invalidate_makes_exactly_one_new_iam_call(make_cache: CacheFactory, fake_iam: FakeIam) -> None:
    cache = make_cache()
    rejected = cache.current()

    cache.invalidate(rejected)
    fresh = cache.current()
    again = cache.current()

    assert fake_iam.calls == 2
    assert fresh != rejected
    assert again is fresh


def test_invalidate_when_ssm_holds_a_newer_token_makes_no_iam_call(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any
) -> None:
    process_a, process_b = make_cache(), make_cache()
    shared = process_a.current()
    assert process_b.current() == shared

    process_b.invalidate(shared)  # B saw IMS refuse it first and refreshed
    newer = process_b.current()
    assert fake_iam.calls == 2

    calls = ApiCalls(ssm_client)
    process_a.invalidate(shared)
    assert process_a.current() == newer
    assert fake_iam.calls == 2
    assert calls.counts == {"GetParameter": 1}


def test_invalidating_an_older_token_keeps_the_current_one(
    make_cache: CacheFactory, fake_iam: FakeIam
) -> None:
    cache = make_cache()
    old = cache.current()
    cache.invalidate(old)
    current = cache.current()

    cache.invalidate(old)  # a late 401 for the old token
    assert cache.current() is current
    assert fake_iam.calls == 2


def test_failed_refresh_raises_the_typed_error(
    make_cache: CacheFactory, iam_mock: Any, ssm_client: Any
) -> None:
    iam_mock.add(
        "POST", "https://iam.eu-de.example.test/v3/auth/tokens", status=401, json={"error": {"code": 401}}
    )
    with pytest.raises(AuthenticationError):
        make_cache().current()


# --- SSM size limits (enforced like AWS) -----------------------------------------------------------


def use_tokens(fake_iam: FakeIam, factory: Callable[[int], str]) -> None:
    fake_iam.token_factory = factory


def test_realistic_16_kb_token_is_stored_within_the_enforced_limits(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, ssm_limits: SsmLimits
) -> None:
    text = pki_token(min_length=16_000)
    use_tokens(fake_iam, lambda _: text)

    report = make_cache().refresh_if_needed(MARGIN)

    assert report.tier == "Advanced"
    assert stored_tier(ssm_client) == "Advanced"
    assert stored(ssm_client).value.get_secret_value() == text
    assert ssm_limits.refused == []
    # a new process can use it
    assert make_cache().current().value.get_secret_value() == text
    assert fake_iam.calls == 1


def test_enforcement_refuses_what_aws_refuses(ssm_client: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="ValidationException"):
        ssm_client.put_parameter(Name="/test/big", Value="x" * 4097, Type="SecureString")
    with pytest.raises(ClientError, match="ValidationException"):
        ssm_client.put_parameter(Name="/test/big", Value="x" * 8193, Type="SecureString", Tier="Advanced")


def test_small_token_after_a_large_one_stays_in_the_advanced_tier(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, ssm_limits: SsmLimits, clock: FakeClock
) -> None:
    text = pki_token(min_length=16_000)
    use_tokens(fake_iam, lambda number: text if number == 1 else small_token(number))
    cache = make_cache()
    cache.current()
    clock.advance(23 * 3600)

    report = cache.refresh_if_needed(MARGIN)

    assert report.refreshed
    assert report.tier == "Advanced"  # SSM cannot downgrade a parameter
    assert ssm_limits.refused == ["ValidationException"]
    assert stored(ssm_client).value.get_secret_value() == small_token(2)


def test_token_too_large_for_ssm_writes_nothing(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, ssm_limits: SsmLimits
) -> None:
    use_tokens(fake_iam, lambda _: random_token(12_000))

    with pytest.raises(TokenTooLargeError):
        make_cache().current()

    assert fake_iam.calls == 1
    assert ssm_limits.refused == []  # not even attempted
    with pytest.raises(ssm_client.exceptions.ParameterNotFound):
        ssm_client.get_parameter(Name=TOKEN_PARAMETER)


def test_refused_write_keeps_the_token_in_memory_and_logs_no_value(
    make_cache: CacheFactory,
    fake_iam: FakeIam,
    ssm_client: Any,
    ssm_limits: SsmLimits,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ims_export")
    ssm_limits.fail_with = "AccessDeniedException"
    cache = make_cache()

    report = cache.refresh_if_needed(MARGIN)

    assert report.refreshed and report.tier is None
    assert cache.current().value.get_secret_value() == fake_iam.issued[0]
    assert fake_iam.calls == 1
    assert "AccessDeniedException" in caplog.text
    assert fake_iam.issued[0] not in caplog.text


# --- the scheduled refresher ------------------------------------------------------------------------


def test_refresh_if_needed_reports_without_the_token(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, clock: FakeClock
) -> None:
    cache = make_cache()
    first = cache.refresh_if_needed(6 * 3600)
    assert first.refreshed
    assert first.seconds_left == 24 * 3600
    assert first.tier == "Standard"

    clock.advance(17 * 3600)  # 7 h left
    unchanged = make_cache().refresh_if_needed(6 * 3600)
    assert not unchanged.refreshed
    assert unchanged.expires_at == first.expires_at
    assert unchanged.tier == "Standard"

    clock.advance(2 * 3600)  # 5 h left: within the refresher's margin, not the functions'
    refreshed = cache.refresh_if_needed(6 * 3600)
    assert refreshed.refreshed
    assert refreshed.expires_at == clock() + timedelta(hours=24)
    assert fake_iam.calls == 2

    dumped = refreshed.model_dump_json()
    assert set(json.loads(dumped)) == {"refreshed", "expires_at", "seconds_left", "tier"}
    for issued in fake_iam.issued:
        assert issued not in dumped and issued not in repr(refreshed)


def test_refresher_does_not_trust_its_memory(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any
) -> None:
    cache = make_cache()
    cache.current()
    ssm_client.delete_parameter(Name=TOKEN_PARAMETER)

    assert cache.refresh_if_needed(MARGIN).refreshed
    assert stored(ssm_client).value.get_secret_value() == fake_iam.issued[1]


# --- waiting for another refresher ------------------------------------------------------------------


class ScriptedLock:
    """A refresh lock that answers from a script and can run something while a caller waits."""

    def __init__(self, outcomes: list[LockOutcome]) -> None:
        self.outcomes = outcomes
        self.generations: list[str] = []

    def run(self, generation: str, refresh: Callable[[], RefreshMetadata]) -> LockResult:
        self.generations.append(generation)
        outcome = self.outcomes.pop(0) if self.outcomes else LockOutcome.BUSY
        if outcome is LockOutcome.RAN:
            return LockResult(outcome, refresh())
        return LockResult(outcome)


def test_busy_lock_then_another_process_stores_a_token(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any
) -> None:
    def other_process_finishes(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            put_token(ssm_client, small_token(700))

    sleeps: list[float] = []
    lock = ScriptedLock([LockOutcome.BUSY] * 5)
    token = make_cache(refresh_lock=lock, sleep=other_process_finishes).current()

    assert token.value.get_secret_value() == small_token(700)
    assert fake_iam.calls == 0
    assert sleeps == [0.2, 0.4]
    assert lock.generations == ["empty", "empty"]


def test_busy_lock_for_too_long_raises_a_retryable_error(make_cache: CacheFactory, fake_iam: FakeIam) -> None:
    sleeper = Sleeper()
    with pytest.raises(TokenRefreshInProgressError) as raised:
        make_cache(refresh_lock=ScriptedLock([]), sleep=sleeper).current()

    assert isinstance(raised.value, TransientError)
    assert fake_iam.calls == 0
    assert sum(sleeper.waits) <= 10  # the bounded wait
    assert sum(sleeper.waits) + max(sleeper.waits) > 10  # used up


def test_done_elsewhere_without_a_stored_token_refreshes_itself(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any
) -> None:
    sleeper = Sleeper()
    token = make_cache(refresh_lock=ScriptedLock([LockOutcome.DONE_ELSEWHERE]), sleep=sleeper).current()
    assert fake_iam.calls == 1
    assert sleeper.waits == []
    assert stored(ssm_client) == token


def test_generation_is_the_stale_records_expiry(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any
) -> None:
    stale = put_token(ssm_client, small_token(600), expires_in=timedelta(minutes=5))
    lock = ScriptedLock([LockOutcome.RAN])
    make_cache(refresh_lock=lock).current()
    assert lock.generations == [stale.expires_at.isoformat()]
    assert fake_iam.calls == 1


# --- the production wiring, secrets -----------------------------------------------------------------


def test_token_cache_from_settings_uses_the_dynamodb_lock(
    ssm_client: Any, dynamodb_client: Any, fake_iam: FakeIam, settings: Settings
) -> None:
    wired = settings.model_copy(update={"idempotency_table": IDEMPOTENCY_TABLE})
    cache = token_cache_from_settings(wired, new_session())

    token = cache.current()

    assert fake_iam.calls == 1
    assert stored(ssm_client) == token
    items = dynamodb_client.scan(TableName=IDEMPOTENCY_TABLE)["Items"]
    assert len(items) == 1
    assert items[0]["status"]["S"] == "COMPLETED"
    assert fake_iam.issued[0] not in json.dumps(items)  # the lock keeps metadata only


def test_a_valid_cached_token_needs_no_lock_store(  # noqa: PLR0917 - pytest fixtures
    ssm_client: Any,
    dynamodb_client: Any,
    fake_iam: FakeIam,
    settings: Settings,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.now = datetime.now(UTC)  # the production wiring reads the real clock
    wired = settings.model_copy(update={"idempotency_table": IDEMPOTENCY_TABLE})
    builds: list[str] = []

    def counted(table: str, *, scope: str) -> Any:
        builds.append(table)
        return dynamodb_refresh_lock(table, scope=scope)

    monkeypatch.setattr("ims_export.auth.cache.dynamodb_refresh_lock", counted)
    token_cache_from_settings(wired, new_session()).current()  # fills SSM (and builds the lock)
    assert builds == [IDEMPOTENCY_TABLE]
    cold_start = token_cache_from_settings(wired, new_session())

    token = cold_start.current()

    assert token == stored(ssm_client)
    assert fake_iam.calls == 1
    assert builds == [IDEMPOTENCY_TABLE]  # no DynamoDB client on the cold path of a warm cache


def test_token_cache_from_settings_without_a_lock_table(
    ssm_client: Any, fake_iam: FakeIam, settings: Settings
) -> None:
    cache = token_cache_from_settings(settings, new_session())
    assert cache.current() == stored(ssm_client)


def test_no_secret_in_logs_of_a_whole_life_cycle(
    make_cache: CacheFactory,
    fake_iam: FakeIam,
    ssm_client: Any,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dynamodb_client = boto3.client("dynamodb", region_name="eu-central-1")
    create_lock_table(dynamodb_client)
    caplog.set_level(logging.DEBUG, logger="ims_export")
    ssm_client.put_parameter(Name=TOKEN_PARAMETER, Value="garbage", Type="SecureString")
    cache = make_cache(refresh_lock=dynamodb_lock(dynamodb_client))
    token = cache.current()
    cache.invalidate(token)
    cache.current()
    clock.advance(23 * 3600)
    report = cache.refresh_if_needed(MARGIN)

    assert fake_iam.calls == 3
    assert "new IAM token" in caplog.text
    texts: list[str] = [caplog.text, repr(cache), repr(token), report.model_dump_json()]
    for issued in fake_iam.issued:
        for text in texts:
            assert issued not in text
    for text in texts:
        assert PASSWORD not in text


def test_lock_table_setting_comes_from_the_environment() -> None:
    assert (
        Settings.from_env({"IDEMPOTENCY_TABLE": "ims-export-locks"}).idempotency_table == "ims-export-locks"
    )
    assert Settings.from_env({}).idempotency_table is None
