"""The fault matrix: run the whole workflow once per fault and print what happened as a markdown table.

    python -m localdev.fault_matrix            # every row; exit status 1 if one differs from its expectation
    python -m localdev.fault_matrix iam_locked # only the named rows

Every row runs the real state machine and handlers through the local runner (``localdev.run``) against
a fresh emulator, with one fault injected through the emulator's control (or into the token cache
parameter), and records the terminal state, the error name, how many export jobs IMS created and how
many times IAM was asked for a token. HTTP timeouts are cut to a fraction of a second, so that the
"slow" faults cost little wall time; every Wait and Retry interval only moves the emulator's clock.
``tests/faults`` runs the same rows and asserts their expected outcomes; ``docs/fault-matrix.md`` is
this script's output.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from localdev.run import (
    DEFAULT_EVENT,
    EMULATOR_BUCKET,
    CloudTarget,
    emulated_cloud,
    isolate_from_aws,
    quiet_libraries,
    run_workflow,
    use_layer_on_path,
)

if TYPE_CHECKING:
    from localdev.deployment import LocalDeployment
    from localdev.emulator import Control

# Small enough that a "slow" answer (SLOW_ANSWER_SECONDS) times out quickly, large enough for loopback.
HTTP_TIMEOUT_SECONDS = "0.3"
SLOW_ANSWER_SECONDS = 0.6
WRONG_PASSWORD = "not-the-password-of-the-emulator"  # noqa: S105 (a deliberately wrong test credential)
# A token cache value longer than even the Advanced tier holds (8,192 characters).
OVERSIZED_CACHE_VALUE = "x" * 10_000
GARBAGE_CACHE_VALUE = "not a token record {garbage}"
RUN_TIMEOUT_SECONDS = 600.0  # a hang guard, not a budget: a loaded machine is slow


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
    why: str = ""


def _inject(route: str, kind: str, times: int = 1, **options: Any) -> Action:
    def inject(control: Control) -> None:
        control.inject(route, kind, times=times, **options)

    return inject


def _revoke_tokens(control: Control) -> None:
    control.revoke_tokens()


def _expire_tokens(control: Control) -> None:
    control.expire_tokens()


def _lock_user(control: Control) -> None:
    control.set_user(locked=True)


def _fail_exports(image_id: str) -> Action:
    def fail(control: Control) -> None:
        control.fail_exports_of(image_id)

    return fail


def _event_image_id() -> str:
    return str(json.loads(DEFAULT_EVENT.read_text(encoding="utf-8"))["image_id"])


def _ok(iam_calls: int = 1) -> Outcome:
    return Outcome("SUCCEEDED", None, 1, iam_calls)


def _route_rows(route: str, area: str, what: str) -> list[FaultCase]:
    """The transport faults every IMS route must survive: the state machine retries each of them."""
    slug = "export" if route == "export" else "job"
    return [
        FaultCase(
            f"{slug}_429",
            area,
            f"HTTP 429 (APIG.0308) on {what}, twice",
            _ok(),
            _inject(route, "throttled", 2),
        ),
        FaultCase(
            f"{slug}_img0060",
            area,
            f"IMG.0060 flow control on {what}, twice",
            _ok(),
            _inject(route, "flow_control", 2),
        ),
        FaultCase(f"{slug}_500", area, f"HTTP 500 on {what}", _ok(), _inject(route, "server_error")),
        FaultCase(f"{slug}_503", area, f"HTTP 503 on {what}", _ok(), _inject(route, "unavailable")),
        FaultCase(
            f"{slug}_dropped",
            area,
            f"connection dropped before {what} is handled",
            _ok(),
            _inject(route, "drop"),
        ),
    ]


def _build_cases() -> tuple[FaultCase, ...]:
    image_id = _event_image_id()
    return (
        FaultCase("baseline", "none", "no fault", _ok()),
        # --- IAM ---------------------------------------------------------------------------------------
        FaultCase(
            "iam_500",
            "IAM",
            "HTTP 500 then 503 on the token request",
            _ok(iam_calls=3),
            lambda c: (_inject("iam_token", "server_error")(c), _inject("iam_token", "unavailable")(c)),
        ),
        FaultCase(
            "iam_429",
            "IAM",
            "HTTP 429 (IAM.0012) on the token request, twice",
            _ok(iam_calls=3),
            _inject("iam_token", "iam_throttled", 2),
        ),
        FaultCase(
            "iam_wrong_credentials",
            "IAM",
            "wrong password (IAM.0062)",
            Outcome("FAILED", "AuthenticationError", 0, 1),
            wrong_password=True,
            why="not retried: repeated wrong passwords would lock the account",
        ),
        FaultCase(
            "iam_locked",
            "IAM",
            "account locked (IAM.0061)",
            Outcome("FAILED", "AccountLockedError", 0, 1),
            _lock_user,
        ),
        # --- IMS, the export call and the job queries ------------------------------------------------
        *_route_rows("export", "IMS export", "the export call"),
        FaultCase(
            "export_slow",
            "IMS export",
            f"export call answered after the read timeout ({SLOW_ANSWER_SECONDS} s); IMS created the job",
            _ok(),
            _inject("export", "slow", delay_seconds=SLOW_ANSWER_SECONDS),
            why="the retry creates the job; the late call then meets it (IMG.0148), answered to no one",
        ),
        *_route_rows("job", "IMS job", "a job query"),
        FaultCase(
            "job_slow",
            "IMS job",
            f"job query answered after the read timeout ({SLOW_ANSWER_SECONDS} s)",
            _ok(),
            _inject("job", "slow", delay_seconds=SLOW_ANSWER_SECONDS),
        ),
        FaultCase(
            "job_fail",
            "IMS job",
            "the export job ends in FAIL",
            Outcome("FAILED", "ExportJobFailed", 1, 1),
            _fail_exports(image_id),
        ),
        # --- the token -------------------------------------------------------------------------------
        FaultCase(
            "token_revoked",
            "token",
            "token revoked after the export started (IMS 401)",
            _ok(iam_calls=2),
            mid_run=_revoke_tokens,
            why="one refresh, then the job query succeeds",
        ),
        FaultCase(
            "token_expired",
            "token",
            "token expired early, after the export started (IMS 401)",
            _ok(iam_calls=2),
            mid_run=_expire_tokens,
            why="one refresh, then the job query succeeds",
        ),
        # --- the token cache parameter -----------------------------------------------------------
        FaultCase("cache_missing", "token cache", "token cache parameter missing (first run)", _ok()),
        FaultCase(
            "cache_corrupt",
            "token cache",
            "token cache parameter holds garbage",
            _ok(),
            token_cache_value=GARBAGE_CACHE_VALUE,
        ),
        FaultCase(
            "cache_oversized",
            "token cache",
            f"token cache parameter holds {len(OVERSIZED_CACHE_VALUE):,} characters (more than any tier)",
            _ok(),
            token_cache_value=OVERSIZED_CACHE_VALUE,
        ),
        # --- a lost response -------------------------------------------------------------------------
        FaultCase(
            "start_lost_response",
            "start step",
            "IMS accepted the export, then the connection died before the job id was saved",
            Outcome("FAILED", "ExportAlreadyRunningError", 1, 1),
            _inject("export", "drop_after_processing"),
            why="the retried call meets the running export (IMG.0148): no second job",
        ),
    )


CASES: tuple[FaultCase, ...] = _build_cases()


@dataclass
class Observation:
    case: FaultCase
    outcome: Outcome
    cause: str | None = None
    log: str = field(default="", repr=False)

    @property
    def as_expected(self) -> bool:
        return self.outcome == self.case.expected


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _on_first_wait(target: CloudTarget, action: Action, control: Control) -> CloudTarget:
    """``target`` whose first Wait (after the start step) also runs ``action``."""
    done: list[bool] = []

    def on_wait(seconds: float) -> object:
        if not done:
            done.append(True)
            action(control)
        return target.on_wait(seconds)

    return replace(target, on_wait=on_wait)


def _seed_token_cache(value: str) -> Callable[[LocalDeployment], None]:
    def seed(deployment: LocalDeployment) -> None:
        import boto3

        boto3.client("ssm").put_parameter(
            Name=deployment.environment["TOKEN_PARAMETER"], Value=value, Type="SecureString", Overwrite=True
        )

    return seed


def run_case(case: FaultCase, event: Any | None = None) -> Observation:
    """Run the workflow once against a fresh emulator with ``case``'s fault injected."""
    event = json.loads(DEFAULT_EVENT.read_text(encoding="utf-8")) if event is None else event
    overrides = {"ExportBucket": EMULATOR_BUCKET, "LogLevel": "WARNING"}
    timeouts = {
        "HTTP_CONNECT_TIMEOUT_SECONDS": HTTP_TIMEOUT_SECONDS,
        "HTTP_READ_TIMEOUT_SECONDS": HTTP_TIMEOUT_SECONDS,
    }
    progress = io.StringIO()
    with _environment(timeouts), emulated_cloud() as emulated, redirect_stdout(progress):
        target, control = emulated, emulated.control
        if control is None:  # pragma: no cover - emulated_cloud always provides it
            raise RuntimeError("the emulated cloud has no control")
        if case.wrong_password:
            target = replace(target, credentials={**target.credentials, "password": WRONG_PASSWORD})
        if case.mid_run is not None:
            target = _on_first_wait(target, case.mid_run, control)
        case.inject(control)
        before_start = (
            _seed_token_cache(case.token_cache_value) if case.token_cache_value is not None else None
        )
        result = run_workflow(
            event,
            target,
            overrides=overrides,
            stream=progress,
            timeout=RUN_TIMEOUT_SECONDS,
            before_start=before_start,
        )
        outcome = Outcome(
            status=result.status,
            error=result.error,
            export_jobs=control.export_jobs(),
            iam_calls=control.requests("iam_token"),
        )
    return Observation(case, outcome, result.cause, progress.getvalue())


def _cell(value: object) -> str:
    return "-" if value is None else str(value).replace("|", "\\|")


def markdown_table(observations: Sequence[Observation]) -> str:
    """The matrix: expected outcome of every row next to what was observed."""
    lines = [
        "| Area | Fault | Terminal state | Error | Export jobs | IAM token calls | Expected | Note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for observation in observations:
        case, seen = observation.case, observation.outcome
        verdict = (
            "as expected" if observation.as_expected else f"**differs** (expected {_describe(case.expected)})"
        )
        cells = (
            case.area,
            case.fault,
            seen.status,
            seen.error,
            seen.export_jobs,
            seen.iam_calls,
            verdict,
            case.why,
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _describe(outcome: Outcome) -> str:
    error = f" {outcome.error}" if outcome.error else ""
    return f"{outcome.status}{error}, {outcome.export_jobs} job(s), {outcome.iam_calls} IAM call(s)"


def main(argv: list[str] | None = None) -> int:
    use_layer_on_path()
    isolate_from_aws()
    quiet_libraries()
    parser = argparse.ArgumentParser(
        prog="python -m localdev.fault_matrix", description=__doc__.splitlines()[0]
    )
    parser.add_argument("rows", nargs="*", help=f"row keys (default: all): {', '.join(c.key for c in CASES)}")
    args = parser.parse_args(argv)
    unknown = set(args.rows) - {case.key for case in CASES}
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    cases = [case for case in CASES if not args.rows or case.key in args.rows]
    observations = []
    for case in cases:
        print(f"running {case.key} ...", file=sys.stderr, flush=True)
        observations.append(run_case(case))
    print(markdown_table(observations), end="")
    return 0 if all(observation.as_expected for observation in observations) else 1


if __name__ == "__main__":
    sys.exit(main())
