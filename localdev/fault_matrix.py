"""The fault matrix: run the whole workflow once per fault and print what happened as a markdown table.

    python -m localdev.fault_matrix            # every row; exit status 1 if one differs from its expectation
    python -m localdev.fault_matrix iam_locked # only the named rows

Every row runs the real state machine and handlers through the local runner (``localdev.run``) against
a fresh emulator, with one fault injected: through the emulator's control (a fault, or an answer
dialect of another cloud or API generation), into the token cache parameter, SSM reads or endpoints.
It records the terminal state, the error name, how many export jobs IMS created and how many times
IAM was asked for a token. A "slow" answer stalls far longer than the (generous) HTTP timeout and
is never handled late, so the rows do not depend on how fast the machine is; every Wait and Retry
interval only moves the emulator's clock.
``tests/faults`` runs the same rows and asserts their expected outcomes; ``docs/fault-matrix.md`` is
this script's output.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from unittest import mock

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

# Generous for a loopback answer on a loaded machine; a "slow" answer stalls far longer (it is dropped
# when the emulator stops, never handled late), so it always times out.
HTTP_TIMEOUT_SECONDS = "5"
SLOW_ANSWER_SECONDS = 600.0
# Where the IMS endpoint derived from cloud and region (eu-de on OTC) is routed to the emulator.
DERIVED_IMS_ENDPOINT = "https://ims.eu-de.otc.t-systems.com"
SSM_THROTTLING = "ThrottlingException"
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
    dialect: Mapping[str, Any] = field(default_factory=dict)  # emulator answer dialect (dialects.py)
    parameters: Mapping[str, str] = field(default_factory=dict)  # template parameters (Cloud, ...)
    settings: Mapping[str, str] = field(default_factory=dict)  # tunable settings ("" unsets IMS_ENDPOINT)
    iam_at_closed_port: bool = False  # IAM_ENDPOINT names a loopback port nobody listens on
    ssm_throttled_once: str | None = None  # "credentials" or "token": that parameter's first read
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


def _dialect_rows() -> list[FaultCase]:
    """Answers of other clouds and API generations: hints in other formats never end the tracking."""
    area = "IMS job dialect"
    variants: list[tuple[str, str, dict[str, Any]]] = [
        ("job_legacy_times", 'times as "04-Jun-2015 18:11:06:586"', {"time_format": "legacy"}),
        ("job_end_time_na", 'end_time "N/A" while the job runs', {"running_end_time": "N/A"}),
        ("job_end_time_empty", 'end_time "" while the job runs', {"running_end_time": ""}),
        ("job_percent_share", "process_percent on a 0-1 scale", {"percent_scale": "share"}),
        (
            "job_percent_text",
            'process_percent as text with a sign ("45.0%")',
            {"percent_as_text": "text_with_sign"},
        ),
        ("job_status_lower", 'status in lower case ("success")', {"status_case": "lower"}),
        (
            "job_camel_case",
            "camelCase fields (jobId, beginTime, processPercent), also in the export answer",
            {"camel_case": True},
        ),
        ("job_entities_list", "entities as a list of objects", {"entities_as_list": True}),
    ]
    return [FaultCase(key, area, fault, _ok(), dialect=dialect) for key, fault, dialect in variants]


def _unreadable_rows() -> list[FaultCase]:
    """Job answers that show no job state: retried with backoff, counted, ended only when sustained."""
    area = "IMS job answer"
    rows = [
        FaultCase(
            f"job_{kind}_once",
            area,
            f"one job query answered 200 with {what}",
            _ok(),
            _inject("job", kind),
            why="transient: counted in the state, next query after a backoff",
        )
        for kind, what in (
            ("html", "an HTML page"),
            ("empty", "an empty body"),
            ("empty_object", "{}"),
            ("job_id_only", "only job_id"),
        )
    ]
    return [
        *rows,
        FaultCase(
            "job_html_sustained",
            area,
            "every job query answered with an HTML page",
            Outcome("FAILED", "UnreadableJobAnswer", 1, 1),
            _inject("job", "html", times=50),
            why="after 30 min of unreadable answers; the failure says the export may run on and how to check",
        ),
        FaultCase(
            "job_undocumented_status",
            area,
            'a job query answered with the undocumented status "DONE"',
            Outcome("FAILED", "UnknownJobStatusError", 1, 1),
            _inject("job", "undocumented_status"),
            why="ends at once, quoting the status and saying the export may still run",
        ),
    ]


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
        FaultCase(
            "iam_201_without_token",
            "IAM",
            "IAM answers 201 without X-Subject-Token",
            _ok(iam_calls=2),
            _inject("iam_token", "no_subject_token"),
            why="transient: the step is retried",
        ),
        FaultCase(
            "iam_refused",
            "IAM",
            "IAM endpoint at a closed port (connection refused)",
            Outcome("FAILED", "UpstreamUnreachableError", 0, 0),
            iam_at_closed_port=True,
            why='"could not connect to <host>" after 2 logged retries in the step',
        ),
        FaultCase(
            "catalog_image_entry",
            "IAM",
            "no IMS_ENDPOINT: the token catalog's image entry is used",
            _ok(),
            settings={"IMS_ENDPOINT": ""},
        ),
        FaultCase(
            "catalog_without_image",
            "IAM",
            "no IMS_ENDPOINT and a token catalog without an image entry",
            _ok(),
            dialect={"catalog_image_entry": False},
            settings={"IMS_ENDPOINT": ""},
            why="the IMS endpoint is derived from cloud and region (logged)",
        ),
        # --- IMS, the export call and the job queries ------------------------------------------------
        *_route_rows("export", "IMS export", "the export call"),
        FaultCase(
            "export_slow",
            "IMS export",
            f"export call stalls past the read timeout ({HTTP_TIMEOUT_SECONDS} s), never handled",
            _ok(),
            _inject("export", "slow", delay_seconds=SLOW_ANSWER_SECONDS),
            why="the retry creates the job",
        ),
        FaultCase(
            "export_html_after_processing",
            "IMS export",
            "IMS starts the export but answers 200 with an HTML page",
            Outcome("FAILED", "ExportStateUnknown", 1, 1),
            _inject("export", "html_after_processing"),
            why="not retried into IMG.0148: the failure says an export may be running and how to check",
        ),
        FaultCase(
            "export_empty_object",
            "IMS export",
            "the export call answered 200 with {}",
            Outcome("FAILED", "ExportStateUnknown", 0, 1),
            _inject("export", "empty_object"),
            why="no job id: whether an export runs cannot be told, the failure says how to check",
        ),
        *_route_rows("job", "IMS job", "a job query"),
        FaultCase(
            "job_slow",
            "IMS job",
            f"job query stalls past the read timeout ({HTTP_TIMEOUT_SECONDS} s)",
            _ok(),
            _inject("job", "slow", delay_seconds=SLOW_ANSWER_SECONDS),
        ),
        *_dialect_rows(),
        *_unreadable_rows(),
        FaultCase(
            "job_api_gone_otc",
            "IMS job API",
            "GET /v1/{project_id}/jobs/{job_id} answers 404 APIGW.0101 (CLOUD=otc)",
            _ok(),
            dialect={"gone_job_apis": ["job"]},
            why="falls back to /v1/cloudimages/job/{job_id}, remembered",
        ),
        FaultCase(
            "job_api_gone_huawei",
            "IMS job API",
            "GET /v1/cloudimages/job/{job_id} answers 404 APIGW.0101 (CLOUD=huawei)",
            _ok(),
            dialect={"gone_job_apis": ["job_progress"]},
            parameters={"Cloud": "huawei"},
            why="huawei asks the current API first, then falls back to the project jobs API",
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
        FaultCase(
            "token_short_lived",
            "token",
            "IAM issues 30-minute tokens (less than the 60-minute refresh margin)",
            _ok(),
            dialect={"token_lifetime_seconds": 1800},
            why="the margin is capped at a quarter of the token's lifetime",
        ),
        FaultCase(
            "token_skewed_clock",
            "token",
            "30-minute tokens whose expires_at is already past by the local clock (IAM clock 1 h behind)",
            _ok(),
            dialect={"token_lifetime_seconds": 1800, "iam_clock_offset_seconds": -3600},
            why="validity is judged on IAM's clock: issued_at to expires_at",
        ),
        # --- SSM -------------------------------------------------------------------------------------
        FaultCase(
            "ssm_credentials_throttled",
            "SSM",
            "the credentials read is throttled once (ThrottlingException)",
            _ok(),
            ssm_throttled_once="credentials",
            why="transient: the step is retried",
        ),
        FaultCase(
            "ssm_token_throttled",
            "SSM",
            "the token cache read is throttled once (ThrottlingException)",
            _ok(),
            ssm_throttled_once="token",
            why="transient: the step is retried, IAM is not asked for it",
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
            Outcome("FAILED", "ExportStateUnknown", 1, 1),
            _inject("export", "drop_after_processing"),
            why="the retried call meets the running export (IMG.0148): no second job; the failure says it "
            "is probably this start's own, untracked, and how to follow it",
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


def _closed_loopback_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _routing_derived_endpoint(emulator_url: str) -> Any:
    """Patch the sessions the clients get so that the derived IMS endpoint reaches the emulator."""
    import requests

    from ims_export.cloud import http

    class ToEmulator(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            request.url = emulator_url + str(request.url)[len(DERIVED_IMS_ENDPOINT) :]
            return super().send(request, *args, **kwargs)

    original = http.new_session

    def new_session() -> requests.Session:
        session = original()
        session.mount(DERIVED_IMS_ENDPOINT, ToEmulator())
        return session

    return mock.patch.object(http, "new_session", new_session)


def _throttling_ssm_once(parameter_variable: str) -> Any:
    """Patch SSM reads so that the first read of the parameter named by ``parameter_variable`` is
    throttled, as SSM does under load."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from botocore.exceptions import ClientError

    original = SSMProvider._get
    throttled: list[str] = []

    def get(self: SSMProvider, name: str, *args: Any, **kwargs: Any) -> Any:
        if not throttled and name == os.environ.get(parameter_variable):
            throttled.append(name)
            error = {"Error": {"Code": SSM_THROTTLING, "Message": "Rate exceeded"}}
            raise ClientError(error, "GetParameter")
        return original(self, name, *args, **kwargs)

    return mock.patch.object(SSMProvider, "_get", get)


def run_case(case: FaultCase, event: Any | None = None) -> Observation:
    """Run the workflow once against a fresh emulator with ``case``'s fault injected."""
    event = json.loads(DEFAULT_EVENT.read_text(encoding="utf-8")) if event is None else event
    overrides = {"ExportBucket": EMULATOR_BUCKET, "LogLevel": "WARNING"}
    timeouts = {
        "HTTP_CONNECT_TIMEOUT_SECONDS": HTTP_TIMEOUT_SECONDS,
        "HTTP_READ_TIMEOUT_SECONDS": HTTP_TIMEOUT_SECONDS,
    }
    progress = io.StringIO()
    with ExitStack() as stack:
        stack.enter_context(_environment(timeouts))
        emulated = stack.enter_context(emulated_cloud())
        stack.enter_context(redirect_stdout(progress))
        target, control = emulated, emulated.control
        if control is None:  # pragma: no cover - emulated_cloud always provides it
            raise RuntimeError("the emulated cloud has no control")
        overrides.update(case.parameters)
        settings = dict(case.settings)
        if settings.get("IMS_ENDPOINT") == "":
            stack.enter_context(_routing_derived_endpoint(emulated.settings["IMS_ENDPOINT"]))
        if case.iam_at_closed_port:
            settings["IAM_ENDPOINT"] = f"http://127.0.0.1:{_closed_loopback_port()}/v3"
        if case.ssm_throttled_once is not None:
            variable = {"credentials": "CREDENTIALS_PARAMETER", "token": "TOKEN_PARAMETER"}
            stack.enter_context(_throttling_ssm_once(variable[case.ssm_throttled_once]))
        if case.dialect:
            control.set_dialect(**case.dialect)
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
            settings=settings,
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
