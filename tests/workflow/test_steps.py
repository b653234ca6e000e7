"""The workflow functions and the handlers, called directly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ims_export import runtime
from ims_export.domain.jobs import JobStatus
from ims_export.errors import (
    ConfigurationError,
    HandOverNotFoundError,
    ImageNotExportableError,
    ImageNotFoundError,
    ImageNotReadyError,
    InvalidRequestError,
    ObjectAlreadyExistsError,
    UpstreamThrottledError,
    UpstreamUnavailableError,
)
from ims_export.settings import Settings
from ims_export.steps.check import check
from ims_export.steps.continuation import hand_over
from ims_export.steps.handover import InMemoryHandOverStore
from ims_export.steps.start import start as start_step
from ims_export.steps.states import (
    Exporting,
    HandOverRequest,
    JobState,
    ReceivedInput,
    StartInput,
    StartResult,
    WaitingForImage,
    continuation_name,
)
from localdev.lambda_handlers import FakeLambdaContext, load_handler
from tests.workflow.conftest import FUNCTIONS, ROOT
from tests.workflow.fakes import (
    IMAGE_ID,
    JOB_ID,
    OTHER_IMAGE_ID,
    SECRET_TOKEN,
    FakeIms,
    make_clients,
    make_image,
    make_job,
    make_settings,
)

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
LIMITED = make_settings(execution_timeout_seconds=3600, max_polls_per_execution=3, max_image_checks=2)


def start(ims: FakeIms, event: Any) -> StartResult:
    return start_step(StartInput(state=ReceivedInput(input=event)), make_clients(ims, LIMITED), now=NOW)


def exporting(**changes: Any) -> Exporting:
    job = JobState(
        job_id=JOB_ID,
        image_id=IMAGE_ID,
        image_name="web",
        image_size_bytes=10 * 1024**3,
        bucket_url="ims-export-demo:exports/web.qcow2",
        file_format="qcow2",
        started_at=NOW,
        deadline=NOW + timedelta(hours=1),
        max_polls_per_execution=3,
    )
    return Exporting(job=job.model_copy(update=changes))


def test_start_exports_an_active_image(fake_ims: FakeIms) -> None:
    result = start(fake_ims, {"image_id": IMAGE_ID})
    assert isinstance(result, Exporting)
    assert result.job.job_id == JOB_ID
    assert result.job.deadline == NOW + timedelta(hours=1)
    assert result.job.next_wait_seconds == 15
    assert result.job.status is JobStatus.INIT
    assert SECRET_TOKEN not in result.model_dump_json()
    [request] = fake_ims.calls_to("export_image")
    assert request.bucket_url == f"ims-export-demo:exports/web-server-prod-{IMAGE_ID}-20261127.qcow2"


def test_a_failed_start_names_the_image_the_target_and_the_format(fake_ims: FakeIms) -> None:
    fake_ims.fail_next(
        "export_image", ObjectAlreadyExistsError("IMG.0070: the object exists", code="IMG.0070")
    )
    event = {"image_id": IMAGE_ID, "bucket_url": "ims-export-demo:exports/web.vmdk", "file_format": "vmdk"}
    with pytest.raises(ObjectAlreadyExistsError) as raised:
        start(fake_ims, event)
    assert str(raised.value) == (
        f"IMG.0070: export of image {IMAGE_ID} to ims-export-demo:exports/web.vmdk as vmdk: "
        "IMG.0070: the object exists"
    )


def test_a_start_that_fails_before_the_target_is_known_names_the_image(fake_ims: FakeIms) -> None:
    fake_ims.fail_next("get_image", ImageNotFoundError("IMG.0027: no such image", code="IMG.0027"))
    with pytest.raises(ImageNotFoundError) as raised:
        start(fake_ims, {"image_id": IMAGE_ID})
    assert raised.value.message == f"export of image {IMAGE_ID}: IMG.0027: no such image"


@pytest.mark.parametrize(("value", "kind"), [([], "array"), ("abc", "string"), (None, "null"), (7, "number")])
def test_an_input_that_is_not_an_object_is_refused_saying_so(
    fake_ims: FakeIms, value: Any, kind: str
) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        start(fake_ims, value)
    assert raised.value.code == "InputNotAnObject"
    assert f"a JSON {kind}, not an object" in raised.value.message
    assert "discriminator" not in raised.value.message
    assert fake_ims.calls == []


def test_start_reports_a_pending_image_instead_of_sleeping(fake_ims: FakeIms) -> None:
    fake_ims.add_image(make_image(status="saving"))
    result = start(fake_ims, {"image_id": IMAGE_ID})
    assert isinstance(result, WaitingForImage)
    assert (result.checks, result.wait_seconds, result.image_status) == (1, 15, "saving")
    assert fake_ims.calls_to("export_image") == []
    with pytest.raises(ImageNotReadyError):  # the second check reaches max_image_checks
        start_step(StartInput(state=result), make_clients(fake_ims, LIMITED), now=NOW)


def test_an_input_shaped_like_the_steps_own_waiting_state_is_only_a_bad_trigger(fake_ims: FakeIms) -> None:
    fake_ims.add_image(make_image(status="saving"))
    waiting = start(fake_ims, {"image_id": IMAGE_ID})
    fake_ims.calls.clear()
    with pytest.raises(InvalidRequestError):
        start(fake_ims, waiting.model_dump(mode="json"))
    assert fake_ims.calls == []


def test_waiting_keeps_the_deadline_of_the_first_check(fake_ims: FakeIms) -> None:
    fake_ims.add_image(make_image(status="queued"), make_image(status="active"))
    waiting = start(fake_ims, {"image_id": IMAGE_ID})
    assert isinstance(waiting, WaitingForImage)
    later = start_step(
        StartInput(state=waiting),
        make_clients(fake_ims, LIMITED),
        now=NOW + timedelta(minutes=10),
    )
    assert isinstance(later, Exporting)
    assert later.job.deadline == NOW + timedelta(hours=1)
    assert later.job.started_at == NOW + timedelta(minutes=10)


def test_parent_image_is_fetched_for_restricted_platforms(fake_ims: FakeIms) -> None:
    fake_ims.add_image(make_image(__platform="Windows", __originalimagename=OTHER_IMAGE_ID))
    fake_ims.add_image(
        make_image(OTHER_IMAGE_ID, name="Windows Server 2022", __imagetype="gold", owner="public")
    )
    with pytest.raises(ImageNotExportableError):
        start(fake_ims, {"image_id": IMAGE_ID})
    assert fake_ims.calls_to("get_image") == [IMAGE_ID, OTHER_IMAGE_ID]
    assert fake_ims.calls_to("export_image") == []


def test_resume_continues_the_handed_over_job_without_calling_ims(fake_ims: FakeIms) -> None:
    previous = exporting(polls=7, polls_in_execution=3, continue_as_new=True)
    handovers = InMemoryHandOverStore()
    handed = hand_over(HandOverRequest(hand_over=previous.job), handovers, now=NOW)
    event = {"resume": {"ticket": handed.ticket}, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn"}
    execution = f"arn:aws:states:r:1:execution:m:{handed.continuation_name}"
    resume = StartInput(state=ReceivedInput(input=event), execution_id=execution)

    result = start_step(resume, make_clients(fake_ims), now=NOW, handovers=handovers)

    assert handed.continuation_name.startswith(f"{JOB_ID}-7-")
    assert isinstance(result, Exporting)
    assert (result.job.polls, result.job.polls_in_execution, result.job.continuations) == (7, 0, 1)
    assert not result.job.continue_as_new
    assert fake_ims.calls == []
    retried = start_step(resume, make_clients(fake_ims), now=NOW, handovers=handovers)
    assert retried == result  # a retried step of the same execution claims the same job
    squatter = StartInput(state=ReceivedInput(input=event), execution_id=f"{execution}-other")
    with pytest.raises(HandOverNotFoundError):  # any other execution is refused
        start_step(squatter, make_clients(fake_ims), now=NOW, handovers=handovers)


def test_check_chooses_a_bounded_wait(fake_ims: FakeIms) -> None:
    fake_ims.script_jobs([make_job("RUNNING", entities={"process_percent": "20"})])
    result = check(exporting(), make_clients(fake_ims), now=NOW + timedelta(minutes=20))
    assert result.job.status is JobStatus.RUNNING
    assert result.job.percent == 20.0
    assert (result.job.polls, result.job.polls_in_execution) == (1, 1)
    assert 15 <= result.job.next_wait_seconds <= 600
    assert not result.job.timed_out
    assert not result.job.continue_as_new


def test_check_never_waits_past_the_deadline(fake_ims: FakeIms) -> None:
    fake_ims.script_jobs([make_job("RUNNING")])
    result = check(exporting(), make_clients(fake_ims), now=NOW + timedelta(minutes=59, seconds=50))
    assert result.job.next_wait_seconds == 10
    late = check(exporting(), make_clients(fake_ims), now=NOW + timedelta(hours=2))
    assert late.job.timed_out


def test_check_flags_continue_as_new_at_the_poll_limit(fake_ims: FakeIms) -> None:
    fake_ims.script_jobs([make_job("RUNNING")])
    result = check(exporting(polls=40, polls_in_execution=2), make_clients(fake_ims), now=NOW)
    assert result.job.continue_as_new
    assert result.job.polls == 41


def test_check_records_the_end_of_the_job(fake_ims: FakeIms) -> None:
    fake_ims.script_jobs(
        [make_job("FAIL", error_code="IMG.0069", fail_reason="no access", end_time="2026-11-27T08:30:00Z")]
    )
    result = check(exporting(), make_clients(fake_ims), now=NOW + timedelta(hours=1))
    assert result.job.status is JobStatus.FAIL
    assert (result.job.error_code, result.job.fail_reason) == ("IMG.0069", "no access")
    assert result.job.finished_at == datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    assert not result.job.timed_out  # a finished job is never reported as timed out


def test_check_asks_the_progress_api_only_when_the_job_says_nothing(fake_ims: FakeIms) -> None:
    fake_ims.script_jobs([make_job("RUNNING")])
    check(exporting(), make_clients(fake_ims), now=NOW)
    fake_ims.script_jobs([make_job("RUNNING", entities={"process_percent": 50})])
    check(exporting(), make_clients(fake_ims), now=NOW)
    assert fake_ims.calls_to("get_job_progress") == [JOB_ID]


def test_a_failing_progress_call_does_not_fail_the_poll(fake_ims: FakeIms) -> None:
    fake_ims.script_jobs([make_job("RUNNING")])
    fake_ims.failures["get_job_progress"] = [UpstreamUnavailableError("progress API down", status=503)]
    result = check(exporting(), make_clients(fake_ims), now=NOW)
    assert result.job.status is JobStatus.RUNNING
    assert result.job.percent is None
    assert fake_ims.calls_to("get_job") == [JOB_ID]


# --- handlers ---------------------------------------------------------------------------------


def context(name: str) -> FakeLambdaContext:
    return FakeLambdaContext(
        function_name=name, invoked_function_arn=f"arn:aws:lambda:eu-central-1:1:function:{name}"
    )


def test_start_handler_refuses_a_bad_event_without_calling_ims(
    clients: runtime.Clients, fake_ims: FakeIms
) -> None:
    handler = load_handler(FUNCTIONS["StartExportFunction"])
    with pytest.raises(InvalidRequestError):
        handler({"event": {"image_id": "nope"}}, context("start"))
    with pytest.raises(InvalidRequestError):
        handler({"not": "a start input"}, context("start"))
    assert fake_ims.calls == []


def test_handlers_return_json_payloads(clients: runtime.Clients, fake_ims: FakeIms) -> None:
    event = json.loads((ROOT / "events" / "image-created.json").read_text())
    fake_ims.add_image(make_image(event["detail"]["image_id"]))
    started = load_handler(FUNCTIONS["StartExportFunction"])(
        {"state": {"input": event}, "execution_id": "arn:aws:states:r:1:execution:m:e1"},
        context("start"),
    )
    assert started["phase"] == "exporting"
    fake_ims.script_jobs([make_job("SUCCESS")])
    checked = load_handler(FUNCTIONS["CheckExportFunction"])(started, context("check"))
    assert checked["job"]["status"] == "SUCCESS"
    assert json.loads(json.dumps(checked)) == checked
    assert SECRET_TOKEN not in json.dumps([started, checked])


def test_refresh_handler_uses_the_larger_scheduled_margin(fake_ims: FakeIms) -> None:
    handler = load_handler(ROOT / "functions" / "refresh_token" / "app.py")
    with runtime.use_clients(make_clients(fake_ims, make_settings(scheduled_refresh_margin_seconds=14400))):
        report = handler({"trigger": "token-refresh"}, context("refresh"))
    assert fake_ims.tokens.refresh_margins == [14400]
    assert report["refreshed"] is True
    assert SECRET_TOKEN not in json.dumps(report)
    below = make_settings(scheduled_refresh_margin_seconds=60)  # below the hot path's margin
    with runtime.use_clients(make_clients(fake_ims, below)):
        handler({}, context("refresh"))
    assert fake_ims.tokens.refresh_margins[-1] == below.token_refresh_margin_seconds
    with pytest.raises(ConfigurationError, match="SCHEDULED_REFRESH_MARGIN_SECONDS"):
        Settings.from_env({"SCHEDULED_REFRESH_MARGIN_SECONDS": "soon"})


def test_clients_are_built_once_and_replaceable(monkeypatch: pytest.MonkeyPatch, fake_ims: FakeIms) -> None:
    built: list[object] = []

    def fake_build(settings: object) -> runtime.Clients:
        built.append(settings)
        return make_clients(fake_ims)

    monkeypatch.setattr(runtime, "build_clients", fake_build)
    monkeypatch.setattr(runtime, "_clients", None)
    monkeypatch.setenv("EXPORT_BUCKET", "from-env-bucket")
    first = runtime.get_clients()
    assert runtime.get_clients() is first
    assert len(built) == 1
    replacement = make_clients(fake_ims, make_settings(poll_min_seconds=30))
    with runtime.use_clients(replacement):
        assert runtime.get_clients() is replacement
    assert runtime.get_clients() is first


class RecordingMetrics:
    def __init__(self) -> None:
        self.added: list[tuple[str, float]] = []

    def add_metric(self, *, name: str, unit: str, value: float) -> None:
        self.added.append((name, value))


def test_token_refreshes_during_an_invocation_are_counted(
    clients: runtime.Clients, fake_ims: FakeIms
) -> None:
    metrics = RecordingMetrics()
    with runtime.counting_upstream_events(metrics):
        fake_ims.tokens.refresh_if_needed(3600)  # obtains a token, as an IAM refresh does
    with runtime.counting_upstream_events(metrics):
        fake_ims.tokens.current()  # a cached token: nothing to count
    assert metrics.added == [("TokenRefreshed", 1)]


def emitted_metric_names(printed: str) -> set[str]:
    """Names of the metrics in the EMF blobs Powertools printed."""
    blobs = [json.loads(line) for line in printed.splitlines() if line.startswith('{"_aws"')]
    return {
        metric["Name"]
        for blob in blobs
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }


def test_check_handler_reports_polls_outcome_and_duration(
    clients: runtime.Clients,
    fake_ims: FakeIms,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    fake_ims.script_jobs([make_job("SUCCESS")])
    load_handler(FUNCTIONS["CheckExportFunction"])(exporting().model_dump(mode="json"), context("check"))
    assert {"PollCount", "ExportSucceeded", "ExportDuration"} <= emitted_metric_names(capsys.readouterr().out)


def test_throttling_is_counted_and_still_raised() -> None:
    metrics = RecordingMetrics()
    with pytest.raises(UpstreamThrottledError), runtime.counting_upstream_events(metrics):
        raise UpstreamThrottledError("IMG.0060", code="IMG.0060")
    with pytest.raises(UpstreamUnavailableError), runtime.counting_upstream_events(metrics):
        raise UpstreamUnavailableError("503", status=503)
    assert metrics.added == [("Throttled", 1)]


def test_a_continuations_name_cannot_be_guessed_before_the_hand_over() -> None:
    # Job ids are in every outcome; a name of job id and polls alone could be taken by anyone who may
    # start executions, and the continuation would then fail with ExecutionAlreadyExists.
    job = exporting(polls=7).job
    first = hand_over(HandOverRequest(hand_over=job), InMemoryHandOverStore(), now=NOW)
    second = hand_over(HandOverRequest(hand_over=job), InMemoryHandOverStore(), now=NOW)

    assert first.continuation_name != second.continuation_name
    assert first.continuation_name != f"{JOB_ID}-7"
    assert continuation_name(job, first.ticket) == first.continuation_name  # a retried start: the same name
    long_job = job.model_copy(update={"job_id": "f" * 64, "polls": 99_999})
    assert len(continuation_name(long_job, first.ticket)) <= 80
