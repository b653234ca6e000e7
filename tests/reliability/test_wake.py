"""Completion signalled, not only polled: an authentic OBS notification of the export's object ends the
export's wait (one check of the IMS job then decides); without one, the poll schedule goes on.

The real definition and functions on moto: the export waits in WaitForObject (its task token stored
under the object), and each notification is an execution of its own, started as the SMN endpoint starts
one, while the export waits (``on_callback``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
import pytest
import requests

from ims_export import runtime
from ims_export.domain.export_request import split_bucket_url
from ims_export.settings import Settings
from ims_export.smn.delivery import handle_smn_message
from ims_export.smn.handler import HANDLERS as SMN_HANDLERS
from ims_export.smn.verify import SmnVerifier
from ims_export.steps.wake import NOTICE_SETTLE_SECONDS, NOTICED_WAIT_SECONDS
from localdev.stepfunctions import ExecutionResult, LocalWorkflow
from tests.notifications.conftest import RecordingFetcher
from tests.notifications.obs_messages import message, obs_record, s3_record
from tests.notifications.smn_signing import NOW, TOPIC_URN, SmnSigner, notification_body
from tests.reliability.conftest import TABLE, CountingTokens, create_idempotency_table, local_workflow
from tests.workflow.fakes import BUCKET, IMAGE_ID, FakeIms, make_clients, make_image, make_job, make_settings

pytestmark = pytest.mark.slow

EXPORT = {"image_id": IMAGE_ID}
WAKE_MAX_WAIT_SECONDS = 3600


@pytest.fixture(scope="module")
def signer() -> SmnSigner:
    return SmnSigner.generate()


@pytest.fixture
def wake_ims() -> FakeIms:
    ims = FakeIms(tokens=CountingTokens())
    ims.add_image(make_image(IMAGE_ID))
    return ims


def settings_with(wake: bool) -> Settings:
    return make_settings(
        smn_allowed_topic_urns=[TOPIC_URN], idempotency_table=TABLE, wake_on_obs_notification=wake
    )


@pytest.fixture
def workflow(wake_ims: FakeIms, signer: SmnSigner, start_app: Any) -> Iterator[LocalWorkflow]:
    yield from _workflow(wake_ims, signer, settings_with(wake=True))


def _workflow(ims: FakeIms, signer: SmnSigner, settings: Settings) -> Iterator[LocalWorkflow]:
    verifier = SmnVerifier(RecordingFetcher(signer.pem), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW)
    key = (settings.smn_allowed_topic_urns, settings.smn_cert_url_pattern)
    SMN_HANDLERS[key] = partial(handle_smn_message, verifier=verifier, session=requests.Session())
    with runtime.use_clients(make_clients(ims, settings)), local_workflow() as workflow:
        create_idempotency_table()
        yield workflow


def run(workflow: LocalWorkflow, event: Any) -> ExecutionResult:
    return workflow.wait_for(workflow.start_execution(event))


def exported_object(ims: FakeIms) -> tuple[str, str]:
    """The bucket and key the export writes (its POST's bucket_url)."""
    [request] = ims.calls_to("export_image")
    return split_bucket_url(request.bucket_url)


def just_now() -> str:
    """An OBS event time for an object written now (the export began a moment ago)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notify(workflow: LocalWorkflow, signer: SmnSigner, *records: dict[str, Any]) -> ExecutionResult:
    """An OBS notification, delivered as the SMN endpoint starts an execution for it."""
    body = signer.sign(notification_body(message(*records), subject=None))
    return run(workflow, {"smn_body": json.dumps(body)})


def on_waits(workflow: LocalWorkflow, *actions: Callable[[], object]) -> list[ExecutionResult]:
    """Each action at the export's next callback wait, in order (later waits: nothing arrives)."""
    pending = list(actions)
    results: list[ExecutionResult] = []

    def deliver(_seconds: float) -> None:
        if pending:
            outcome = pending.pop(0)()
            if isinstance(outcome, ExecutionResult):
                results.append(outcome)

    workflow.on_callback = deliver
    return results


def waits(workflow: LocalWorkflow) -> list[tuple[str, float]]:
    return [(wait.kind, wait.seconds) for wait in workflow.waits if wait.kind != "retry"]


def test_a_notification_of_the_object_wakes_the_export_and_one_check_confirms_it(
    workflow: LocalWorkflow, wake_ims: FakeIms, signer: SmnSigner
) -> None:
    wake_ims.script_jobs([make_job("SUCCESS")])

    def object_written() -> ExecutionResult:
        bucket, key = exported_object(wake_ims)
        return notify(
            workflow, signer, s3_record(key=key.replace(" ", "+"), bucket=bucket, event_time=just_now())
        )

    delivered = on_waits(workflow, object_written)
    result = run(workflow, EXPORT)
    [notified] = delivered

    assert result.status == "SUCCEEDED"
    assert (result.output["status"], result.output["polls"]) == ("SUCCEEDED", 1)
    bucket, key = exported_object(wake_ims)
    noticed = result.output["noticed"]
    assert (noticed["bucket"], noticed["key"], noticed["event_name"]) == (bucket, key, "ObjectCreated:Post")
    # No wait ran its course: the notification ended the first one, and the check came a little later,
    # when IMS has mostly finished the job.
    assert waits(workflow) == [("wait", NOTICE_SETTLE_SECONDS)]
    assert len(wake_ims.calls_to("get_job")) == 1
    assert notified.status == "SUCCEEDED"
    [woken] = notified.output["woken"]
    assert woken["woken"]["key"] == key


def test_the_huawei_and_otc_swiss_form_wakes_it_too(
    workflow: LocalWorkflow, wake_ims: FakeIms, signer: SmnSigner
) -> None:
    wake_ims.script_jobs([make_job("SUCCESS")])

    def object_written() -> ExecutionResult:
        bucket, key = exported_object(wake_ims)
        return notify(workflow, signer, obs_record(key=key, bucket=bucket, event_time=just_now()))

    on_waits(workflow, object_written)
    result = run(workflow, EXPORT)

    assert result.output["noticed"]["event_name"] == "ObjectCreated:Put"
    assert result.output["polls"] == 1


def test_a_lost_notification_falls_back_to_the_poll_schedule(
    workflow: LocalWorkflow, wake_ims: FakeIms
) -> None:
    wake_ims.script_jobs([make_job("RUNNING", entities={"process_percent": "40"}), make_job("SUCCESS")])

    result = run(workflow, EXPORT)  # nothing arrives

    assert result.status == "SUCCEEDED"
    assert result.output["polls"] == 2
    assert "noticed" not in result.output
    # Each wait ran its whole course, then one check: both long (WAKE_MAX_WAIT_SECONDS), the first too,
    # since a notice was expected to end them; the schedule is only the safety net.
    assert waits(workflow) == [("callback", WAKE_MAX_WAIT_SECONDS), ("callback", WAKE_MAX_WAIT_SECONDS)]


def test_the_first_long_wait_never_passes_the_deadline(
    wake_ims: FakeIms, signer: SmnSigner, start_app: Any
) -> None:
    del start_app
    wake_ims.script_jobs([make_job("RUNNING"), make_job("SUCCESS")])
    settings = settings_with(wake=True).model_copy(update={"execution_timeout_seconds": 900})
    for workflow in _workflow(wake_ims, signer, settings):
        result = run(workflow, EXPORT)  # nothing arrives

        assert result.output["status"] == "SUCCEEDED"
        # The deadline is 900 s after the start: no wait (WAKE_MAX_WAIT_SECONDS: 3600) sleeps past it.
        assert [kind for kind, _ in waits(workflow)] == ["callback", "callback"]
        assert all(880 <= seconds <= 900 for _, seconds in waits(workflow))


def test_a_notification_before_ims_reports_success_is_confirmed_by_a_later_check(
    workflow: LocalWorkflow, wake_ims: FakeIms, signer: SmnSigner
) -> None:
    wake_ims.script_jobs([make_job("RUNNING", entities={"process_percent": "99"}), make_job("SUCCESS")])

    def object_written() -> ExecutionResult:
        bucket, key = exported_object(wake_ims)
        return notify(workflow, signer, s3_record(key=key, bucket=bucket, event_time=just_now()))

    on_waits(workflow, object_written)
    result = run(workflow, EXPORT)

    assert result.status == "SUCCEEDED"
    assert result.output["polls"] == 2  # the woken check saw RUNNING: nothing was decided on the notice
    # After the notice: short plain waits (IMS is finishing), never a second callback wait.
    assert waits(workflow) == [("wait", NOTICE_SETTLE_SECONDS), ("wait", NOTICED_WAIT_SECONDS)]


@pytest.mark.parametrize(
    "resembling",
    [
        lambda bucket, key: (bucket, key + ".part"),
        lambda bucket, key: (bucket, key[:-1]),
        lambda bucket, key: (bucket, key.upper()),
        lambda bucket, key: ("another-bucket", key),
    ],
    ids=["suffix", "prefix", "other-case", "other-bucket"],
)
def test_a_notification_of_another_object_does_nothing(
    workflow: LocalWorkflow,
    wake_ims: FakeIms,
    signer: SmnSigner,
    resembling: Callable[[str, str], tuple[str, str]],
) -> None:
    wake_ims.script_jobs([make_job("SUCCESS")])

    def other_object_written() -> ExecutionResult:
        bucket, key = resembling(*exported_object(wake_ims))
        return notify(workflow, signer, s3_record(key=key, bucket=bucket, event_time=just_now()))

    delivered = on_waits(workflow, other_object_written)
    result = run(workflow, EXPORT)
    [notified] = delivered

    assert "noticed" not in result.output
    assert waits(workflow) == [("callback", WAKE_MAX_WAIT_SECONDS)]  # the wait ran its course
    assert notified.status == "SUCCEEDED"
    [unmatched] = notified.output["woken"]
    assert set(unmatched) == {"unmatched"}


def test_a_redelivered_notification_is_harmless(
    workflow: LocalWorkflow, wake_ims: FakeIms, signer: SmnSigner
) -> None:
    wake_ims.script_jobs([make_job("RUNNING"), make_job("SUCCESS")])
    deliveries: list[ExecutionResult] = []

    def written() -> None:
        bucket, key = exported_object(wake_ims)
        deliveries.append(notify(workflow, signer, s3_record(key=key, bucket=bucket, event_time=just_now())))

    on_waits(workflow, written)
    workflow.on_wait = lambda _seconds: written() if len(deliveries) == 1 else None  # SMN delivers again
    result = run(workflow, EXPORT)

    assert result.status == "SUCCEEDED"
    assert result.output["polls"] == 2
    first, again = deliveries
    assert "woken" in first.output["woken"][0]
    assert again.status == "SUCCEEDED"
    assert "unmatched" in again.output["woken"][0]  # the token was used: nothing else happens
    assert len(wake_ims.calls_to("get_job")) == 2


def test_a_notification_after_the_export_ended_does_nothing(
    workflow: LocalWorkflow, wake_ims: FakeIms, signer: SmnSigner
) -> None:
    wake_ims.script_jobs([make_job("SUCCESS")])
    result = run(workflow, EXPORT)
    assert result.status == "SUCCEEDED"
    calls = len(wake_ims.calls)

    bucket, key = exported_object(wake_ims)
    late = notify(workflow, signer, s3_record(key=key, bucket=bucket, event_time=just_now()))

    assert late.status == "SUCCEEDED"
    assert "unmatched" in late.output["woken"][0]  # its record is still there; its wait is not
    assert len(wake_ims.calls) == calls


def test_a_forged_notification_wakes_nothing(
    workflow: LocalWorkflow, wake_ims: FakeIms, signer: SmnSigner
) -> None:
    wake_ims.script_jobs([make_job("SUCCESS")])
    forged: list[ExecutionResult] = []

    def forged_written() -> None:
        bucket, key = exported_object(wake_ims)
        body = signer.sign(
            notification_body(message(s3_record(key=key, bucket=bucket, event_time=just_now())), subject=None)
        )
        body["message"] = body["message"].replace("ObjectCreated:Post", "ObjectCreated:Put")
        forged.append(run(workflow, {"smn_body": json.dumps(body)}))

    on_waits(workflow, forged_written)
    result = run(workflow, EXPORT)

    assert "noticed" not in result.output
    [refused] = forged
    assert (refused.status, refused.output["status"]) == ("SUCCEEDED", "REFUSED")


def test_without_wake_on_obs_notification_waits_are_plain_and_notifications_are_ignored(
    wake_ims: FakeIms, signer: SmnSigner, start_app: Any
) -> None:
    del start_app
    wake_ims.script_jobs([make_job("RUNNING"), make_job("SUCCESS")])
    for workflow in _workflow(wake_ims, signer, settings_with(wake=False)):
        result = run(workflow, EXPORT)
        bucket, key = exported_object(wake_ims)
        ignored = notify(workflow, signer, s3_record(key=key, bucket=bucket, event_time=just_now()))

        assert result.output["polls"] == 2
        assert [kind for kind, _ in waits(workflow)] == ["wait", "wait"]
        assert ignored.output["phase"] == "notification_handled"
        assert "WAKE_ON_OBS_NOTIFICATION is off" in ignored.output["detail"]


def test_a_notification_before_the_wait_ends_the_next_wait_at_once(
    workflow: LocalWorkflow, wake_ims: FakeIms, signer: SmnSigner
) -> None:
    # Delivered while no wait holds a token (here: before the export even started): the record
    # remembers it, and the export's next wait is refused by its condition: the check follows the settle.
    key = "exports/early.qcow2"
    early = notify(workflow, signer, s3_record(key=key, bucket=BUCKET, event_time=just_now()))
    wake_ims.script_jobs([make_job("RUNNING"), make_job("SUCCESS")])

    result = run(workflow, {"image_id": IMAGE_ID, "bucket_url": f"{BUCKET}:{key}", "file_format": "qcow2"})

    assert "unmatched" in early.output["woken"][0]
    assert result.status == "SUCCEEDED"
    assert result.output["noticed"]["event_name"] == "ObjectCreated (before the wait)"
    # No wait ran its course.
    assert waits(workflow) == [("wait", NOTICE_SETTLE_SECONDS), ("wait", NOTICED_WAIT_SECONDS)]
    assert result.output["polls"] == 2


def test_any_other_output_sent_with_the_token_only_ends_the_wait(
    workflow: LocalWorkflow, wake_ims: FakeIms
) -> None:
    # Whoever holds a token may send anything: the export checks IMS once more, nothing else.
    wake_ims.script_jobs([make_job("RUNNING"), make_job("SUCCESS")])

    def bogus_output() -> None:
        items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
        [item] = [item for item in items if "task_token" in item]
        boto3.client("stepfunctions").send_task_success(
            taskToken=item["task_token"]["S"], output=json.dumps({"bogus": 1})
        )

    on_waits(workflow, bogus_output)
    result = run(workflow, EXPORT)

    assert result.status == "SUCCEEDED"
    assert "noticed" not in result.output
    assert result.output["polls"] == 2
    # The first wait was ended (then the settle, as after any notice); the next ran its course.
    assert waits(workflow) == [("wait", NOTICE_SETTLE_SECONDS), ("callback", WAKE_MAX_WAIT_SECONDS)]


def test_an_export_to_another_bucket_than_export_bucket_waits_plainly(
    workflow: LocalWorkflow, wake_ims: FakeIms
) -> None:
    # Only EXPORT_BUCKET is wired to notify: elsewhere no notice can come, so no long wait for one.
    wake_ims.script_jobs([make_job("RUNNING"), make_job("SUCCESS")])

    result = run(
        workflow,
        {"image_id": IMAGE_ID, "bucket_url": "another-bucket:exports/x.qcow2", "file_format": "qcow2"},
    )

    assert result.status == "SUCCEEDED"
    assert [kind for kind, _ in waits(workflow)] == ["wait", "wait"]
    # The switch is on but cannot work for this export: the outcome says so, and why.
    [warning] = result.output["warnings"]
    assert warning.startswith("WAKE_ON_OBS_NOTIFICATION is on, but this export waits on the poll schedule")
    assert "another-bucket is not EXPORT_BUCKET" in warning


def test_a_token_stored_between_the_read_and_the_mark_is_read_again(
    workflow: LocalWorkflow, signer: SmnSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An export's wait stores its token right after the notification's execution read the record (and
    # found none): marking the record seen is refused by its condition, and the record is read again, so
    # the wait that just began is the one the notice goes to (here its token is no longer live: marked).
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.get_item
    landed: list[str] = []

    def get_item(self: DynamoDBBackend, table_name: str, keys: dict[str, Any], *rest: Any) -> Any:
        item = original(self, table_name, keys, *rest)
        record = keys["id"]["S"]
        if record.startswith("wake#") and not landed:
            landed.append(record)
            self.put_item(table_name, {"id": {"S": record}, "task_token": {"S": "a-wait-that-just-began"}})
        return item

    monkeypatch.setattr(DynamoDBBackend, "get_item", get_item)
    key = "exports/raced.qcow2"

    notified = notify(workflow, signer, s3_record(key=key, bucket=BUCKET, event_time=just_now()))

    assert notified.status == "SUCCEEDED", notified.cause
    entered = [
        event["stateEnteredEventDetails"]["name"]
        for event in workflow.history(notified.arn)
        if "stateEnteredEventDetails" in event
    ]
    assert entered.count("FindWaitingExport") == 2
    assert [name for name in entered if name.startswith("MarkSeen")] == [
        "MarkSeenIfNoneWaits",  # refused: a token came since the read
        "MarkSeenIfTokenUnchanged",  # the token read again could not be sent: the notice is remembered
    ]
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"id": {"S": landed[0]}})["Item"]
    assert item["seen_at"]["S"] == notified.output["woken"][0]["unmatched"]["message_id"]
