"""IMS accepts only a valid, unexpired, unrevoked token of the right project: else 401."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from localdev.emulator import Emulator, ManualClock, seed
from tests.emulator.conftest import CloudClient, assert_unauthorized

Call = Callable[[CloudClient, str | None], requests.Response]

CALLS: dict[str, Call] = {
    "export": lambda client, token: client.export(seed.DEBIAN_SMALL, token=token),
    "job": lambda client, token: client.job("0" * 32, token=token),
    "progress": lambda client, token: client.progress("0" * 32, token=token),
    "images": lambda client, token: client.images(token=token),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("token", ["", "MIIgarbage"], ids=["missing", "unknown"])
def test_every_ims_call_needs_a_token_issued_here(client: CloudClient, call: Call, token: str) -> None:
    assert_unauthorized(call(client, token))


def test_token_expires_after_its_lifetime(
    client: CloudClient, emulator: Emulator, clock: ManualClock
) -> None:
    clock.advance(emulator.config.token_lifetime_seconds - 1)
    assert client.images().status_code == 200
    clock.advance(1)
    response = client.images()
    assert_unauthorized(response)
    assert "expired" in response.json()["error"]["message"]


def test_expire_tokens_by_control(client: CloudClient, emulator: Emulator) -> None:
    assert emulator.control.expire_tokens(client.token) == 1
    assert_unauthorized(client.images())


def test_revoking_one_token_leaves_the_others_valid(client: CloudClient, emulator: Emulator) -> None:
    other = CloudClient(emulator)
    other.login()

    assert emulator.control.revoke_tokens(client.token) == 1
    response = client.images()
    assert_unauthorized(response)
    assert "revoked" in response.json()["error"]["message"]
    assert other.images().status_code == 200

    assert emulator.control.revoke_tokens() == 2
    assert_unauthorized(other.images())


def test_revoking_an_unknown_token_is_a_key_error(emulator: Emulator) -> None:
    with pytest.raises(KeyError):
        emulator.control.revoke_tokens("MIInot-issued-here")


def test_401_bodies_never_echo_the_token(client: CloudClient, emulator: Emulator) -> None:
    assert client.token is not None
    emulator.control.revoke_tokens(client.token)
    response = client.export(seed.DEBIAN_SMALL)
    assert client.token not in response.text
    assert client.token[:40] not in response.text


def test_the_registry_keeps_no_token_in_clear(client: CloudClient, emulator: Emulator) -> None:
    assert client.token is not None
    registry = emulator.state.tokens
    assert client.token not in repr(vars(registry))
