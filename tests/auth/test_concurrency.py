"""Many executions starting at once against an empty token cache must not storm IAM."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from ims_export.domain.tokens import IssuedToken
from tests.auth.conftest import CacheFactory, FakeIam, Sleeper, dynamodb_lock

COLD_STARTS = 50


def run_concurrently(starts: list[Any]) -> tuple[list[IssuedToken], list[BaseException]]:
    barrier = threading.Barrier(len(starts))
    tokens: list[IssuedToken] = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def start(cache: Any) -> None:
        barrier.wait()
        try:
            token = cache.current()
        except Exception as error:  # collected and asserted on below
            with guard:
                errors.append(error)
        else:
            with guard:
                tokens.append(token)

    threads = [threading.Thread(target=start, args=(cache,)) for cache in starts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return tokens, errors


@pytest.fixture
def atomic_dynamodb_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB conditional writes are atomic; moto's in-memory backend is not thread-safe, so make it so."""
    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "get_item"):
        original = getattr(DynamoDBBackend, name)

        def atomic(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(*args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


@pytest.mark.usefixtures("atomic_dynamodb_writes")
def test_fifty_concurrent_cold_starts_make_one_iam_call(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, dynamodb_client: Any
) -> None:
    fake_iam.delay_seconds = 0.05  # IAM takes a moment: the others arrive while it answers
    # The boto3 clients (SSM with AWS's size limits enforced) were made in the main thread and are
    # thread-safe; every "process" has its own SSMProvider (so its own Powertools cache), its own
    # persistence layer and its own TokenCache.
    caches = [
        make_cache(client=ssm_client, refresh_lock=dynamodb_lock(dynamodb_client), sleep=Sleeper(scale=0.1))
        for _ in range(COLD_STARTS)
    ]

    tokens, errors = run_concurrently(caches)

    print(f"\n{COLD_STARTS} concurrent cold starts -> {fake_iam.calls} IAM call(s)")  # noqa: T201 (the report)
    assert errors == []
    assert len(tokens) == COLD_STARTS
    assert fake_iam.calls == 1
    assert {token.value.get_secret_value() for token in tokens} == {fake_iam.issued[0]}


def test_without_the_cross_process_lock_every_cold_start_calls_iam(
    make_cache: CacheFactory, fake_iam: FakeIam
) -> None:
    """The baseline the lock improves on (and proof that the test above can fail)."""
    fake_iam.delay_seconds = 0.05
    caches = [make_cache() for _ in range(10)]

    tokens, errors = run_concurrently(caches)

    assert errors == []
    assert len(tokens) == 10
    assert fake_iam.calls > 1


def test_threads_of_one_process_share_one_refresh(make_cache: CacheFactory, fake_iam: FakeIam) -> None:
    fake_iam.delay_seconds = 0.05
    cache = make_cache()  # no cross-process lock: the in-process lock alone must suffice

    tokens, errors = run_concurrently([cache] * 10)

    assert errors == []
    assert len(tokens) == 10
    assert fake_iam.calls == 1
