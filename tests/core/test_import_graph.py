"""What importing each handler loads: the check step's cold start stays free of the start step's weight.

Each handler is imported in a fresh interpreter, as Lambda does, and its loaded modules are listed; the
check handler also after one poll, as a cold start polls: a valid token cached in SSM, read through the
Parameters and Secrets extension (a loopback stand-in for it and IMS: benchmarks/_cold_world.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from benchmarks import _cold_world
from ims_export.steps.states import Exporting, JobState

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
imported = sorted(sys.modules)
event = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
class Context:  # what Powertools reads of a Lambda context
    function_name, function_version, memory_limit_in_mb = "probe", "$LATEST", 256
    invoked_function_arn = "arn:aws:lambda:eu-central-1:111122223333:function:probe"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
try:
    answer = app.lambda_handler(event, Context()) if event is not None else None
except Exception as error:  # a refusal is an answer too: what it loaded still counts
    answer = {"raised": type(error).__name__}
def models(cls):  # every pydantic model class whose validator has been built
    for sub in cls.__subclasses__():
        if sub.__pydantic_complete__:
            yield f"{sub.__module__}.{sub.__qualname__}"
        yield from models(sub)
from pydantic import BaseModel
built = sorted(set(models(BaseModel)))
print(json.dumps({"imported": imported, "invoked": sorted(sys.modules), "answer": answer, "built": built}))
"""
# What a cold start must not load: the X-Ray SDK, boto3 and botocore's machinery (Powertools' user-agent
# hook imports the bare ``botocore`` package when it exists: a few milliseconds, no client), Powertools
# Parameters and Idempotency (each brings boto3).
BOTO_AND_FRIENDS = (
    "boto3",
    "botocore.session",
    "botocore.client",
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.idempotency",
)


def probe(function: str, event: Any = None, environment: Mapping[str, str] = {}) -> dict[str, Any]:
    arguments = [str(ROOT / "layers" / "common"), str(ROOT / "functions" / function)]
    completed = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE, *arguments, *([json.dumps(event)] if event is not None else [])],
        env={**os.environ, "AWS_REGION": "eu-central-1", "PYTHONDONTWRITEBYTECODE": "1", **environment},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return result


def loaded_by(function: str) -> set[str]:
    return set(probe(function)["imported"])


def _under(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


# The start step's payloads and the trigger events they embed: the check step builds only its own models.
START_ONLY_MODELS = ("ims_export.steps.states", "ims_export.triggers")


def test_the_check_step_loads_no_verifier_no_idempotency_store_no_fleet_and_no_obs() -> None:
    modules = loaded_by("check_export")

    assert "ims_export.steps.check" in modules  # the probe did import the handler
    assert _under(modules, "cryptography") == []
    assert _under(modules, "aws_lambda_powertools.utilities.idempotency") == []
    assert (
        _under(
            modules,
            "ims_export.smn",
            "ims_export.steps.export_guard",
            "ims_export.fleet",
            "ims_export.cloud.obs",
            "ims_export.cloud.temporary_credentials",
        )
        == []
    )
    assert _under(modules, *START_ONLY_MODELS) == []


def test_the_start_step_still_loads_its_payloads_and_the_trigger_events() -> None:
    # The other side of the check step's lean import graph: the names it no longer loads are real.
    modules = loaded_by("start_export")

    assert set(START_ONLY_MODELS) <= modules


HANDLERS = [
    "check_export",
    "verify_export",
    "retire_exports",
    "start_export",
    "hand_over",
    "describe_outcome",
    "refresh_token",
    "select_images",
]


@pytest.mark.parametrize("function", HANDLERS)
def test_no_handler_loads_the_cloud_clients_before_its_first_call(function: str) -> None:
    # The IAM/IMS clients and the token cache are built on first use (runtime.build_clients), so an
    # invocation that refuses its input never pays for them.
    assert _under(loaded_by(function), "ims_export.cloud.ims", "ims_export.auth.cache") == []


@pytest.mark.parametrize("function", HANDLERS)
def test_no_handler_imports_the_xray_sdk_boto3_or_powertools_parameters(function: str) -> None:
    assert _under(loaded_by(function), *BOTO_AND_FRIENDS) == []


def exporting_event() -> dict[str, Any]:
    now = datetime.now(UTC)
    job = JobState(
        job_id=_cold_world.JOB_ID,
        image_id=_cold_world.IMAGE_ID,
        image_name="bench-image",
        bucket_url="bench-bucket:exports/x.qcow2",
        started_at=now,
        deadline=now + timedelta(hours=1),
        max_polls_per_execution=100,
    )
    return Exporting(job=job).model_dump(mode="json")


def test_a_cold_export_start_imports_no_boto3_and_no_powertools_idempotency() -> None:
    # The duplicate guard's claims are the state machine's DynamoDB tasks: the start function only
    # builds their requests, so an export start (check, claim, POST) needs no DynamoDB client.
    reads: dict[str, int] = {}
    with _cold_world.fake_cloud(reads) as endpoint:
        environment = {
            **_cold_world.application_environment(endpoint),
            "AWS_SESSION_TOKEN": "session-token",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        claiming = probe("start_export", _cold_world.START_EVENT, environment)
        claimed = {"state": {**claiming["answer"], "claimed": {}}, "execution_id": "e-1"}
        posted = probe("start_export", claimed, environment)

    assert claiming["answer"]["phase"] == "claiming"
    assert claiming["answer"]["claim"]["TableName"] == environment["IDEMPOTENCY_TABLE"]
    assert posted["answer"]["phase"] == "recording"
    assert posted["answer"]["then"]["job"]["job_id"] == _cold_world.JOB_ID  # the POST did run
    for run in (claiming, posted):
        assert _under(set(run["invoked"]), *BOTO_AND_FRIENDS) == []


# What only other requests of the start step need (an SMN delivery, a continuation's resume), and what
# only the hand-over and outcome steps load.
OTHER_REQUESTS_ONLY = (
    "ims_export.smn",
    "ims_export.steps.continuation",
    "ims_export.steps.outcome",
    "ims_export.steps.release",
    "cryptography",
)
# Models no export of a manual trigger validates: the other triggers, waits, duplicates, SMN deliveries,
# hand-overs and outcomes, and the job answers and exported objects only a poll reads.
OTHER_PATHS_MODELS = (
    "ims_export.triggers.events.ScheduleInput",
    "ims_export.triggers.events.EventDetail",
    "ims_export.triggers.events.ImageCreatedEvent",
    "ims_export.triggers.events.ScheduledEvent",
    "ims_export.triggers.events.CtsTraceEvent",
    "ims_export.steps.states.WaitingForImage",
    "ims_export.steps.states.WaitingForClaim",
    "ims_export.steps.states.Duplicate",
    "ims_export.steps.states.NotificationHandled",
    "ims_export.steps.states.SmnDelivery",
    "ims_export.steps.states.ResumeInput",
    "ims_export.steps.states.HandOverRequest",
    "ims_export.steps.states.HandOverResult",
    "ims_export.steps.outcome_payloads.OutcomeRequest",
    "ims_export.steps.outcome_payloads.EndedState",
    "ims_export.steps.outcome_payloads.Outcome",
    "ims_export.steps.outcome_payloads.DescribedOutcome",
    "ims_export.steps.outcome_payloads.ClaimRelease",
    "ims_export.steps.job_state.ExportedObject",
    "ims_export.steps.job_state.RetentionReport",
    "ims_export.domain.jobs.Job",
)


def test_a_cold_export_of_a_manual_trigger_loads_and_builds_only_what_it_uses() -> None:
    with _cold_world.fake_cloud() as endpoint:
        environment = _cold_world.application_environment(endpoint)
        claiming = probe("start_export", _cold_world.START_EVENT, environment)
        claimed = {"state": {**claiming["answer"], "claimed": {}}, "execution_id": "e-1"}
        posted = probe("start_export", claimed, environment)

    assert posted["answer"]["then"]["job"]["job_id"] == _cold_world.JOB_ID  # the POST did run
    for run in (claiming, posted):
        assert "ims_export.steps.start" in run["invoked"]
        assert _under(set(run["invoked"]), *OTHER_REQUESTS_ONLY) == []
        built = set(run["built"])
        assert "ims_export.steps.states.StartInput" in built  # the probe does list built models
        assert sorted(built & set(OTHER_PATHS_MODELS)) == []


def test_an_smn_delivery_and_an_outcome_load_what_they_need_and_the_outcome_step_no_cloud() -> None:
    # The counterpart: the modules the export start leaves out are the ones these requests use.
    ended = {"outcome": {"state": {"input": _cold_world.START_EVENT["event"]}, "execution_id": "e-1"}}
    with _cold_world.fake_cloud() as endpoint:
        environment = _cold_world.application_environment(endpoint)
        described = probe("describe_outcome", ended, environment)
        smn = probe("start_export", {"event": {"smn_body": "{}"}}, environment)

    assert described["answer"]["route"]
    assert smn["answer"] == {"raised": "SmnMessageRefusedError"}  # refused: the body is no SMN message
    assert {"ims_export.steps.outcome", "ims_export.steps.release"} <= set(described["invoked"])
    assert "ims_export.steps.outcome_payloads.DescribedOutcome" in described["built"]
    # The outcome step calls nothing: neither a cloud client nor the token cache is loaded for it.
    assert _under(set(described["invoked"]), "ims_export.cloud", "ims_export.auth", *BOTO_AND_FRIENDS) == []
    assert "ims_export.smn.messages" in smn["invoked"]


def test_a_cold_poll_with_a_valid_cached_token_creates_no_boto3_client() -> None:
    reads: dict[str, int] = {}
    with _cold_world.fake_cloud(reads) as endpoint:
        environment = {
            **_cold_world.application_environment(endpoint),
            "IDEMPOTENCY_TABLE": "",  # a refresh lock would be built only for a refresh anyway
            "AWS_SESSION_TOKEN": "session-token",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        polled = probe("check_export", exporting_event(), environment)

    assert polled["answer"]["job"]["polls"] == 1  # the poll did run
    assert reads == {"extension": 1}  # the token came through the extension, not the SSM API
    invoked = set(polled["invoked"])
    assert "ims_export.auth.cache" in invoked
    assert _under(invoked, *BOTO_AND_FRIENDS) == []
    assert _under(invoked, "ims_export.steps.export_guard", "ims_export.smn", "ims_export.fleet") == []
    assert _under(invoked, *START_ONLY_MODELS) == []
    # Only a token refresh reads credentials or an IAM answer: those models are not built for a poll.
    built = set(polled["built"])
    assert "ims_export.steps.job_state.JobState" in built
    assert _under(built, "ims_export.cloud.iam", "ims_export.domain.credentials") == []
    assert "ims_export.auth.cache.RefreshReport" not in built
    # A poll reads its export's target (ExportTarget) but never validates an export request.
    assert "ims_export.domain.export_request.ExportRequest" not in built
