from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from ims_export.auth.refresh_lock import (
    IdempotencyRefreshLock,
    LockOutcome,
    RefreshMetadata,
    backoff_delays,
)
from ims_export.errors import AuthenticationError
from tests.auth.conftest import TOKEN_PARAMETER, dynamodb_lock


class Refresher:
    def __init__(self, metadata: RefreshMetadata | None = None) -> None:
        self.calls = 0
        self.metadata = metadata or {"expires_at": "2025-03-02T12:00:00+00:00", "tier": "Standard"}

    def __call__(self) -> RefreshMetadata:
        self.calls += 1
        return self.metadata


def test_backoff_delays_grow_are_capped_and_stay_within_the_total() -> None:
    delays = list(backoff_delays(10.0))
    assert delays[:4] == [0.2, 0.4, 0.8, 1.6]
    assert max(delays) == 2.0
    assert sum(delays) <= 10.0
    assert sum(delays) + 2.0 > 10.0  # no room left for another wait
    assert list(backoff_delays(0.1)) == []


def test_first_caller_runs_later_callers_of_the_same_generation_do_not(dynamodb_client: Any) -> None:
    first, later = dynamodb_lock(dynamodb_client), dynamodb_lock(dynamodb_client)
    refresher = Refresher()

    ran = first.run("2025-03-01T12:00:00+00:00", refresher)
    again = later.run("2025-03-01T12:00:00+00:00", refresher)

    assert ran.outcome is LockOutcome.RAN
    assert again.outcome is LockOutcome.DONE_ELSEWHERE
    assert again.metadata == refresher.metadata
    assert refresher.calls == 1


def test_another_generation_runs_again(dynamodb_client: Any) -> None:
    lock = dynamodb_lock(dynamodb_client)
    refresher = Refresher()
    assert lock.run("empty", refresher).outcome is LockOutcome.RAN
    assert lock.run("2025-03-02T12:00:00+00:00", refresher).outcome is LockOutcome.RAN
    assert refresher.calls == 2


def test_other_token_parameters_do_not_share_keys(dynamodb_client: Any) -> None:
    persistence = DynamoDBPersistenceLayer(table_name="test-idempotency", boto3_client=dynamodb_client)
    refresher = Refresher()
    assert dynamodb_lock(dynamodb_client).run("empty", refresher).outcome is LockOutcome.RAN
    other = IdempotencyRefreshLock(persistence, scope="/other/token")
    assert other.run("empty", refresher).outcome is LockOutcome.RAN


def test_caller_during_a_refresh_is_told_busy(dynamodb_client: Any) -> None:
    winner, loser = dynamodb_lock(dynamodb_client), dynamodb_lock(dynamodb_client)
    seen = []

    def refresh_while_another_tries() -> RefreshMetadata:
        seen.append(loser.run("empty", Refresher()).outcome)
        return {"tier": "Standard"}

    assert winner.run("empty", refresh_while_another_tries).outcome is LockOutcome.RAN
    assert seen == [LockOutcome.BUSY]


def test_refresh_that_died_half_way_frees_its_key_after_the_in_progress_bound(dynamodb_client: Any) -> None:
    persistence = DynamoDBPersistenceLayer(table_name="test-idempotency", boto3_client=dynamodb_client)
    dying = IdempotencyRefreshLock(persistence, scope=TOKEN_PARAMETER, in_progress_seconds=0)
    successor = dynamodb_lock(dynamodb_client)
    seen = []

    def refresh_that_outlives_its_bound() -> RefreshMetadata:
        time.sleep(0.01)  # past the (zero) in-progress bound
        seen.append(successor.run("empty", Refresher()).outcome)
        return {"tier": "Standard"}

    dying.run("empty", refresh_that_outlives_its_bound)
    assert seen == [LockOutcome.RAN]


def test_failed_refresh_releases_the_key(dynamodb_client: Any) -> None:
    lock = dynamodb_lock(dynamodb_client)

    def fail() -> RefreshMetadata:
        raise AuthenticationError("IAM refused the token request (401): Unauthorized.")

    with pytest.raises(AuthenticationError):
        lock.run("empty", fail)
    refresher = Refresher()
    assert lock.run("empty", refresher).outcome is LockOutcome.RAN
    assert refresher.calls == 1


def test_unavailable_lock_store_falls_back_to_an_unguarded_refresh(
    aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    import boto3

    client = boto3.client("dynamodb", region_name="eu-central-1")  # no table: every call fails
    lock = IdempotencyRefreshLock(
        DynamoDBPersistenceLayer(table_name="missing", boto3_client=client), scope=TOKEN_PARAMETER
    )
    refresher = Refresher()
    with caplog.at_level(logging.WARNING, logger="ims_export"):
        result = lock.run("empty", refresher)
    assert result.outcome is LockOutcome.RAN
    assert refresher.calls == 1
    assert "refreshing without it" in caplog.text
