# ruff: noqa: F811 - the fixtures of tests/auth are imported by name and used as parameters
"""50 check containers hold a token that IAM revoked: one IAM call replaces it for all of them.

Each container is a TokenCache of its own (own SSM provider, own lock client) whose SSM writes are
held to the permissions template.yaml gives the check step (expanded by SAM's translator): a step that
may not write the token cache makes its refresh useless to the others, who then wait and ask IAM
themselves -- the baseline this test also measures.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.auth.conftest import (  # noqa: F401 - fixtures used by name
    CacheFactory,
    FakeIam,
    Sleeper,
    aws,
    clock,
    dynamodb_client,
    dynamodb_lock,
    fake_iam,
    iam_mock,
    make_cache,
    settings,
    ssm_client,
    ssm_limits,
)
from tests.auth.test_concurrency import atomic_dynamodb_writes, run_concurrently  # noqa: F401
from tests.workflow.iam_policies import allowed_actions

CONTAINERS = 50
TOKEN_CACHE = "parameter/${AWS::StackName}/token"


class PolicyBoundSsm:
    """An SSM client that refuses PutParameter unless the role's statements allow it on the token cache."""

    def __init__(self, client: Any, allowed: set[str]) -> None:
        self._client = client
        self._allowed = allowed

    def put_parameter(self, **arguments: Any) -> Any:
        if "ssm:PutParameter" not in self._allowed:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "PutParameter"
            )
        return self._client.put_parameter(**arguments)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def iam_calls_after_revocation(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, dynamodb_client: Any, allowed: set[str]
) -> tuple[int, list[BaseException]]:
    fake_iam.delay_seconds = 0.05  # the others arrive while IAM answers
    first = make_cache(client=ssm_client)
    revoked = first.current()  # the token every container holds, stored in SSM
    containers = [
        make_cache(
            client=PolicyBoundSsm(ssm_client, allowed),
            refresh_lock=dynamodb_lock(dynamodb_client),
            sleep=Sleeper(scale=0.1),
        )
        for _ in range(CONTAINERS)
    ]
    for container in containers:
        assert container.current() == revoked  # warm: taken from SSM, no IAM call
        container.invalidate(revoked)  # IMS answered 401 to it
    before = fake_iam.calls
    tokens, errors = run_concurrently(containers)
    assert all(token != revoked for token in tokens)
    return fake_iam.calls - before, errors


@pytest.mark.usefixtures("atomic_dynamodb_writes")
def test_fifty_check_containers_after_a_revocation_make_one_iam_call(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, dynamodb_client: Any
) -> None:
    allowed = allowed_actions("CheckExportFunctionRole", TOKEN_CACHE)

    calls, errors = iam_calls_after_revocation(make_cache, fake_iam, ssm_client, dynamodb_client, allowed)

    print(f"\n{CONTAINERS} check containers after a revocation -> {calls} IAM call(s)")  # noqa: T201 (the figure)
    assert errors == []
    assert calls == 1


@pytest.mark.usefixtures("atomic_dynamodb_writes")
def test_without_the_write_permission_the_others_cannot_share_the_refresh(
    make_cache: CacheFactory, fake_iam: FakeIam, ssm_client: Any, dynamodb_client: Any
) -> None:
    """The baseline (and proof that the test above can fail): a check step that may only read."""
    allowed = allowed_actions("CheckExportFunctionRole", TOKEN_CACHE) - {"ssm:PutParameter"}

    calls, errors = iam_calls_after_revocation(make_cache, fake_iam, ssm_client, dynamodb_client, allowed)

    print(f"\nread-only: {calls} IAM call(s), {len(errors)} containers gave up waiting")  # noqa: T201
    assert calls > 1 or errors
