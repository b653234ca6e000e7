"""The verify and retire steps on their own, against the emulator: clock granularity, the time budget, a
missing bucket, an object the pattern did not name, and what the steps return for the state."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import responses

from ims_export.runtime import Clients, ImsApi, TokenStore
from ims_export.settings import Settings
from ims_export.steps import obs_access
from ims_export.steps.retire import retention_report
from ims_export.steps.states import JobState
from ims_export.steps.verify import exported_object
from localdev.emulator import DEFAULT_BUCKET, Emulator, ManualClock
from localdev.emulator.obs_state import ObsFailure, ObsRoute
from tests.obs.conftest import ACCESS_KEY, OTHER_BUCKET, SECRET_KEY, SECURITY_TOKEN, StaticTokens, issued

IMAGE = "2542e7a1-52a3-4693-bd2a-4efae19ef09f"
KEY = f"exports/debian-12-web-{IMAGE}-20250106.qcow2"


def clients_for(emulator: Emulator, tokens: StaticTokens, **settings: Any) -> Clients:
    values = {
        "iam_endpoint": emulator.iam_url,
        "obs_endpoint": emulator.obs_url,
        "project_id": "p" * 32,
        "export_bucket": DEFAULT_BUCKET,
        **settings,
    }
    return Clients(
        settings=Settings.model_validate(values),
        tokens=cast(TokenStore, tokens),
        ims=cast(ImsApi, None),  # the step makes no IMS call
        clock=lambda: datetime.fromtimestamp(emulator.control.now(), UTC),
    )


def job_started(at: datetime, key: str = KEY, bucket: str = DEFAULT_BUCKET) -> JobState:
    return JobState(
        job_id="job-1",
        image_id=IMAGE,
        image_name="debian-12-web",
        bucket_url=f"{bucket}:{key}",
        started_at=at,
        deadline=at + timedelta(hours=48),
        max_polls_per_execution=2000,
    )


def verified_then_retired(job: JobState, clients: Clients, **timing: Any) -> dict[str, Any]:
    """What the verify step, then the retire step, put on the job."""
    found = exported_object(job, clients, **timing)
    retention = retention_report(job.model_copy(update={"object": found}), clients, **timing)
    return {"object": found, "retention": retention}


def at_half_second(clock: ManualClock) -> float:
    """Move the emulated clock to the middle of a second; return that second."""
    now = clock.now()
    clock.advance(math.floor(now) + 1.5 - now)
    return math.floor(clock.now())


def test_an_object_written_in_the_second_the_export_began_is_this_exports(
    emulator: Emulator, emulator_tokens: StaticTokens, clock: ManualClock
) -> None:
    second = at_half_second(clock)
    emulator.control.obs.plant_object(DEFAULT_BUCKET, KEY, size_bytes=42, age_seconds=0.3)  # at second + 0.2
    started = datetime.fromtimestamp(second + 0.7, UTC)  # after the write, in the same second

    update = verified_then_retired(job_started(started), clients_for(emulator, emulator_tokens))

    exported = update["object"]
    assert (exported.verification, exported.size_bytes) == ("verified", 42)
    assert exported.last_modified == datetime.fromtimestamp(second, UTC)
    assert update["retention"] is None


def test_an_object_from_the_second_before_the_export_is_not_this_exports(
    emulator: Emulator, emulator_tokens: StaticTokens, clock: ManualClock
) -> None:
    second = at_half_second(clock)
    emulator.control.obs.plant_object(DEFAULT_BUCKET, KEY, size_bytes=42, age_seconds=1.0)  # at second - 0.5
    started = datetime.fromtimestamp(second + 0.1, UTC)

    exported = verified_then_retired(job_started(started), clients_for(emulator, emulator_tokens))["object"]

    assert exported.verification == "missing"
    assert "before the export began" in (exported.verification_reason or "")


def test_a_bucket_that_does_not_exist_holds_no_export(
    emulator: Emulator, emulator_tokens: StaticTokens
) -> None:
    started = datetime.fromtimestamp(emulator.control.now(), UTC)

    job = job_started(started, bucket="gone-bucket")
    exported = verified_then_retired(job, clients_for(emulator, emulator_tokens))["object"]

    assert exported.verification == "missing"
    assert "gone-bucket" in (exported.verification_reason or "")


def test_an_empty_object_is_no_export(
    emulator: Emulator, emulator_tokens: StaticTokens, clock: ManualClock
) -> None:
    # HEAD 200 with Content-Length 0: no image file is empty.
    emulator.control.obs.plant_object(DEFAULT_BUCKET, KEY, size_bytes=0, age_seconds=0)
    started = datetime.fromtimestamp(emulator.control.now() - 5, UTC)

    exported = verified_then_retired(job_started(started), clients_for(emulator, emulator_tokens))["object"]

    assert exported.verification == "missing"
    assert "is empty (0 bytes)" in (exported.verification_reason or "")


def test_retries_stop_when_the_time_budget_is_used_up(
    emulator: Emulator, emulator_tokens: StaticTokens
) -> None:
    emulator.control.obs.inject(ObsRoute.HEAD, ObsFailure.SERVICE_UNAVAILABLE, times=3)
    ticks = iter([0.0, 1.0, 1.0, obs_access.TIME_BUDGET_SECONDS + 1, obs_access.TIME_BUDGET_SECONDS + 1])
    slept: list[float] = []
    started = datetime.fromtimestamp(emulator.control.now(), UTC)

    update = verified_then_retired(
        job_started(started),
        clients_for(emulator, emulator_tokens),
        sleep=slept.append,
        monotonic=lambda: next(ticks, obs_access.TIME_BUDGET_SECONDS + 1),
    )

    assert update["object"].verification == "unverified"
    assert "UpstreamUnavailableError" in update["object"].verification_reason
    assert emulator.control.obs.requests(ObsRoute.HEAD) == 1  # no second try after the budget
    assert slept == []


def test_retention_leaves_alone_an_export_not_named_by_the_pattern(
    emulator: Emulator, emulator_tokens: StaticTokens
) -> None:
    key = "manual/debian.qcow2"  # an event's own bucket_url
    started = datetime.fromtimestamp(emulator.control.now(), UTC)
    emulator.control.obs.plant_object(DEFAULT_BUCKET, key, size_bytes=5)
    old = f"exports/debian-12-web-{IMAGE}-20240101.qcow2"
    emulator.control.obs.plant_object(DEFAULT_BUCKET, old, size_bytes=5, age_seconds=86400)

    update = verified_then_retired(
        job_started(started, key=key), clients_for(emulator, emulator_tokens, retention_count=1)
    )

    assert update["object"].verification == "verified"
    assert "is not a name of EXPORT_OBJECT_PATTERN" in update["retention"].skipped_reason
    assert old in [item["name"] for item in emulator.control.obs.objects(DEFAULT_BUCKET)]
    assert emulator.control.obs.requests(ObsRoute.LIST) == 0


def test_retention_with_a_pattern_without_image_id_reports_why_it_cannot_run(
    emulator: Emulator, emulator_tokens: StaticTokens
) -> None:
    key = "exports/debian-12-web-20250106.qcow2"
    started = datetime.fromtimestamp(emulator.control.now(), UTC)
    emulator.control.obs.plant_object(DEFAULT_BUCKET, key, size_bytes=5)
    clients = clients_for(
        emulator,
        emulator_tokens,
        retention_count=1,
        export_object_pattern="exports/{image_name}-{date}.{format}",
    )

    update = verified_then_retired(job_started(started, key=key), clients)

    assert "needs {image_id}" in update["retention"].skipped_reason
    assert emulator.control.obs.requests(ObsRoute.DELETE) == 0


IAM = "https://iam.eu-de.example.test/v3"
OBS = "https://obs.eu-de.example.test"
CREDENTIAL_ANSWER = {
    "credential": {
        "access": ACCESS_KEY,
        "secret": SECRET_KEY,
        "securitytoken": SECURITY_TOKEN,
        "expires_at": "2099-01-01T00:00:00.000000Z",
    }
}


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        ({"status": 200, "headers": {"Content-Length": "5"}}, "without a readable Last-Modified"),
        (
            {"status": 403, "headers": {"x-obs-error-code": "AccessDenied"}},
            "ObsAccessDeniedError",
        ),
    ],
    ids=["no-last-modified", "obs-access-denied"],
)
@responses.activate
def test_an_answer_that_proves_nothing_leaves_the_export_unverified(
    head: dict[str, Any], reason: str
) -> None:
    responses.post(f"{IAM}.0/OS-CREDENTIAL/securitytokens", json=CREDENTIAL_ANSWER, status=201)
    responses.head(f"{OBS}/{DEFAULT_BUCKET}/{KEY}", **head)
    clients = Clients(
        settings=Settings(iam_endpoint=IAM, obs_endpoint=OBS, project_id="p" * 32, retention_count=2),
        tokens=cast(TokenStore, StaticTokens(issued())),
        ims=cast(ImsApi, None),
    )

    update = verified_then_retired(job_started(datetime(2025, 1, 6, tzinfo=UTC)), clients)

    exported = update["object"]
    assert exported.verification == "unverified"
    assert reason in exported.verification_reason
    assert update["retention"].skipped_reason == "the export is not verified"
    assert SECRET_KEY not in exported.model_dump_json() and SECURITY_TOKEN not in exported.model_dump_json()


@pytest.mark.parametrize(
    ("allowed", "deleted"), [((), False), ((OTHER_BUCKET,), True)], ids=["not-allowed", "listed"]
)
def test_retention_deletes_only_in_the_export_bucket_or_the_listed_ones(
    emulator: Emulator, emulator_tokens: StaticTokens, allowed: tuple[str, ...], deleted: bool
) -> None:
    # An event may name a bucket_url of its own: retention there would delete what the stack was never given.
    old = f"exports/debian-12-web-{IMAGE}-20240101.qcow2"
    emulator.control.obs.plant_object(OTHER_BUCKET, old, size_bytes=9, age_seconds=86400 * 30)
    emulator.control.obs.plant_object(OTHER_BUCKET, KEY, size_bytes=42, age_seconds=0)
    started = datetime.fromtimestamp(emulator.control.now() - 60, UTC)
    clients = clients_for(
        emulator, emulator_tokens, export_bucket=DEFAULT_BUCKET, retention_count=1, retention_buckets=allowed
    )

    retention = verified_then_retired(job_started(started, bucket=OTHER_BUCKET), clients)["retention"]

    assert (old not in emulator.control.bucket_objects(OTHER_BUCKET)) is deleted
    if not deleted:
        assert "only in EXPORT_BUCKET or RETENTION_BUCKETS" in (retention.skipped_reason or "")
