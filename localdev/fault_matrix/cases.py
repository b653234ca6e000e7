"""A row of the fault matrix: the fault, how it is injected, and the outcome the workflow must reach."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localdev.emulator import Control

# Generous for a loopback answer on a loaded machine; a "slow" answer stalls far longer (it is dropped
# when the emulator stops, never handled late), so it always times out.
HTTP_TIMEOUT_SECONDS = "5"
SLOW_ANSWER_SECONDS = 600.0
WRONG_PASSWORD = "not-the-password-of-the-emulator"  # noqa: S105 (a deliberately wrong test credential)
# A token cache value longer than even the Advanced tier holds (8,192 characters).
OVERSIZED_CACHE_VALUE = "x" * 10_000
GARBAGE_CACHE_VALUE = "not a token record {garbage}"


@dataclass(frozen=True)
class Outcome:
    """What a run ended with: the four facts the matrix records."""

    status: str  # SUCCEEDED or FAILED (or another execution status)
    error: str | None  # the Fail state's error name; None when the export succeeded
    export_jobs: int  # export jobs IMS created: never more than one per request
    iam_calls: int  # token requests IAM received (failed ones included)


Action = Callable[["Control"], object]


def _nothing(_control: Control) -> None:
    return None


@dataclass(frozen=True)
class FaultCase:
    """One row: a fault, how to inject it, and the outcome the workflow must reach."""

    key: str
    area: str
    fault: str
    expected: Outcome
    inject: Action = _nothing  # before the execution starts
    mid_run: Action | None = None  # at the first Wait: the export has started, no job query yet
    token_cache_value: str | None = None  # put into the token cache parameter before the run
    wrong_password: bool = False
    dialect: Mapping[str, Any] = field(default_factory=dict)  # emulator answer dialect (dialects.py)
    parameters: Mapping[str, str] = field(default_factory=dict)  # template parameters (Cloud, ...)
    settings: Mapping[str, str] = field(default_factory=dict)  # tunable settings ("" unsets IMS_ENDPOINT)
    iam_at_closed_port: bool = False  # IAM_ENDPOINT names a loopback port nobody listens on
    ssm_throttled_once: str | None = None  # "credentials" or "token": that parameter's first read
    why: str = ""


def inject_fault(route: str, kind: str, times: int = 1, **options: Any) -> Action:
    def inject(control: Control) -> None:
        control.inject(route, kind, times=times, **options)

    return inject


def revoke_tokens(control: Control) -> None:
    control.revoke_tokens()


def expire_tokens(control: Control) -> None:
    control.expire_tokens()


def lock_user(control: Control) -> None:
    control.set_user(locked=True)


def fail_exports(image_id: str) -> Action:
    def fail(control: Control) -> None:
        control.fail_exports_of(image_id)

    return fail


def ok(iam_calls: int = 1) -> Outcome:
    return Outcome("SUCCEEDED", None, 1, iam_calls)
