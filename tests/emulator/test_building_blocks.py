"""Clocks, token blobs and settings, without HTTP."""

from __future__ import annotations

import pytest

from localdev.emulator import EmulatorConfig, ManualClock, ScaledClock
from localdev.emulator.clock import DEFAULT_MANUAL_START, iso_micros, iso_millis, iso_seconds, parse_iso
from localdev.emulator.tokens import TokenRecord, TokenRegistry, pki_token, token_payload


class FakeRealTime:
    def __init__(self) -> None:
        self.value = 1_000_000.0

    def __call__(self) -> float:
        return self.value


def test_scaled_clock_multiplies_real_time() -> None:
    real = FakeRealTime()
    clock = ScaledClock(speed=50, real_time=real)
    start = clock.now()
    real.value += 2
    assert clock.now() == start + 100


def test_scaled_clock_needs_a_positive_speed() -> None:
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(speed=0)


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = ManualClock()
    assert clock.now() == DEFAULT_MANUAL_START
    assert clock.advance(90) == DEFAULT_MANUAL_START + 90
    assert clock.now() == DEFAULT_MANUAL_START + 90
    with pytest.raises(ValueError, match="negative"):
        clock.advance(-1)


def test_time_formats() -> None:
    moment = parse_iso("2024-11-06T06:46:51.929Z")
    assert iso_millis(moment) == "2024-11-06T06:46:51.929Z"
    assert iso_seconds(moment) == "2024-11-06T06:46:51Z"
    assert iso_micros(moment) == "2024-11-06T06:46:51.929000Z"
    assert parse_iso("2024-11-06T07:46:51.929+01:00") == moment


@pytest.mark.parametrize("size", [1000, 5001, 7800, 20000])
def test_pki_token_has_the_requested_size_and_round_trips(size: int) -> None:
    body = {"token": {"project": {"id": "p" * 32}, "expires_at": "2025-01-07T08:00:00.000000Z"}}
    token = pki_token(body, size)
    assert size - 4 < len(token) <= size
    assert token.startswith("MII")
    assert "/" not in token
    assert token_payload(token) == body


def test_registry_revoke_and_expire() -> None:
    registry = TokenRegistry()
    registry.add("token-a", TokenRecord("user", "project", issued_at=0, expires_at=100))
    registry.add("token-b", TokenRecord("user", "project", issued_at=0, expires_at=100))

    record_a = registry.find("token-a")
    assert record_a is not None and record_a.problem(now=50) is None
    assert record_a.problem(now=100) == "The token has expired."
    assert registry.revoke("token-a") == 1
    assert record_a.problem(now=50) == "The token has been revoked."
    assert registry.expire(now=10, token=None) == 2
    record_b = registry.find("token-b")
    assert record_b is not None and record_b.problem(now=10) == "The token has expired."
    assert registry.find("token-c") is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"token_size": 999},
        {"token_size": 20001},
        {"export_bytes_per_second": 0},
        {"fail_at_fraction": 1.0},
        {"job_init_seconds": -1},
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(**overrides)  # type: ignore[arg-type]


def test_project_name_defaults_to_the_region() -> None:
    assert EmulatorConfig(region="eu-nl").project_name == "eu-nl"
