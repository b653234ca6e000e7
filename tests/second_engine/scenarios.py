"""The courses both state machines are replayed on, on both engines: every end state of the export state
machine (each Fail and Succeed state), the claims, continue-as-new, a failed release, and a fleet of
several pages.

Each is a run of the project's own (the runner, the real handlers, the emulator), recorded; the replay
gives both engines the answers it recorded. Where a course needs a Lambda answer no healthy run gives (an
outcome step that fails, a release that cannot reach its table), the scenario edits the recorded ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import requests

from ims_export.smn.handler import HANDLERS as SMN_HANDLERS
from localdev.emulator import DEFAULT_BUCKET, seed
from localdev.second_engine.recording import Scenario

EVENTS = Path(__file__).resolve().parents[2] / "events"
NEVER_READY = "5e1f0c3a-9b7d-4e2a-8c6f-1d2e3f4a5b6c"
# The demo bucket as the export target; outcomes go to a bus and a topic of their own, so that both
# publishing integrations run.
DEPLOYED = {
    "ExportBucket": DEFAULT_BUCKET,
    "EventBusName": "ims-export-outcomes",
    "NotificationTopicArn": "create",
}


def scenario(name: str, event: Any, *, overrides: dict[str, str] | None = None, **options: Any) -> Scenario:
    return Scenario(name, event, overrides={**DEPLOYED, **(overrides or {})}, **options)


def _event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def manual(image_id: str, **fields: Any) -> dict[str, Any]:
    return {"image_id": image_id, **fields}


@contextmanager
def trusted_smn_signer() -> Iterator[Any]:
    """The start function verifies SMN messages with a test key (SMN's certificate cannot be fetched
    offline); the signer signs as SMN documents it."""
    from ims_export.smn.delivery import handle_smn_message
    from ims_export.smn.verify import SmnVerifier
    from tests.notifications.conftest import RecordingFetcher
    from tests.notifications.smn_signing import TOPIC_URN, SmnSigner

    signer = SmnSigner.generate()
    verifier = SmnVerifier(
        RecordingFetcher(signer.pem), allowed_topic_urns={TOPIC_URN}, max_age=timedelta(days=3650)
    )
    SMN_HANDLERS.clear()
    SMN_HANDLERS[((TOPIC_URN,), None)] = partial(
        handle_smn_message, verifier=verifier, session=requests.Session()
    )
    try:
        yield signer
    finally:
        SMN_HANDLERS.clear()


def _signed_ignored_notification(signer: Any) -> str:
    """A signed SMN notification of a trace that starts nothing (a deleteImage)."""
    from tests.notifications.smn_signing import create_image_trace, notification_body

    trace = create_image_trace(seed.ROCKY_DB, trace_name="deleteImage")
    return json.dumps(signer.sign(notification_body(json.dumps(trace))))


HELD_TARGET = f"{DEFAULT_BUCKET}:exports/held.qcow2"


def _claim_held_elsewhere(dynamodb: Any, table: str) -> None:
    """Another execution's claim on the export of HELD_TARGET, expiring in 20 seconds."""
    from ims_export.steps.claim_records import IN_PROGRESS, export_record_id

    key = {
        "image_id": seed.DEBIAN_SMALL,
        "bucket_url": HELD_TARGET,
        "file_format": "qcow2",
        "is_quick_export": False,
    }
    item = {
        "id": {"S": export_record_id(key)},
        "expiration": {"N": str(int(time.time()) + 20)},
        "claim_state": {"S": IN_PROGRESS},
        "started_by": {"S": "arn:aws:states:eu-central-1:123456789012:execution:ims-export:another"},
    }
    dynamodb.put_item(TableName=table, Item=item)


def _outcome_step_fails(config: dict[str, Any]) -> None:
    """Every answer of the outcome step becomes a failure no retrier takes."""
    for name, answers in config["MockedResponses"].items():
        if name.endswith(".DescribeOutcome"):
            for number in answers:
                answers[number] = {"Throw": {"Error": "ValueError", "Cause": '{"errorType": "ValueError"}'}}


def _release_names_a_missing_table(config: dict[str, Any]) -> None:
    """The outcome's release names a table that is not there: ReleaseExport fails for good."""
    for name, answers in config["MockedResponses"].items():
        if name.endswith(".DescribeOutcome"):
            for answer in answers.values():
                for delete in answer["Return"]["Payload"].get("release", {}).get("deletes", []):
                    delete["TableName"] = "ims-export-no-such-table"


EXPORT_SCENARIOS = [
    scenario("exported", _event("image-created.json")),
    scenario("duplicate", manual(seed.DEBIAN_SMALL), further_events=[manual(seed.DEBIAN_SMALL)]),
    scenario("job_failed", _event("export-failing.json")),
    scenario("not_exportable", manual(seed.FULL_ECS)),
    scenario("invalid_request", {"image_id": "not-an-image-id"}),
    scenario(
        "image_not_ready",
        manual(NEVER_READY),
        settings={"MAX_IMAGE_CHECKS": "2"},
        prepare_emulator=lambda control: control.add_image(
            "still-saving", image_id=NEVER_READY, status="queued", activate_after_seconds=10**9
        ),
    ),
    scenario("timed_out", manual(seed.ROCKY_DB), settings={"EXECUTION_TIMEOUT_SECONDS": "60"}),
    scenario(
        "object_missing",
        manual(seed.DEBIAN_SMALL),
        prepare_emulator=lambda control: control.obs.set_exports(lost=True),
    ),
    scenario(
        "export_refused",
        manual(seed.DEBIAN_SMALL, bucket_url=f"{DEFAULT_BUCKET}:exports/taken.qcow2"),
        prepare_emulator=lambda control: control.put_object(DEFAULT_BUCKET, "exports/taken.qcow2"),
    ),
    scenario(
        "claim_waited_for",
        manual(seed.DEBIAN_SMALL, bucket_url=HELD_TARGET, file_format="qcow2"),
        seed_table=_claim_held_elsewhere,
    ),
    scenario("continued", manual(seed.ROCKY_DB), settings={"MAX_POLLS_PER_EXECUTION": "1"}),
    scenario("release_failed", _event("export-failing.json"), edit_answers=_release_names_a_missing_table),
    scenario("outcome_unbuilt", manual(seed.DEBIAN_SMALL), edit_answers=_outcome_step_fails),
    scenario(
        "smn_refused",
        (EVENTS / "smn" / "image-created.json").read_text(encoding="utf-8"),
        via="smn",
        overrides={"SmnAllowedTopicUrns": _event("smn/image-created.json")["topic_urn"]},
    ),
    scenario(
        "smn_ignored",
        _signed_ignored_notification,
        via="smn",
        overrides={"SmnAllowedTopicUrns": _event("smn/image-created.json")["topic_urn"]},
        context=trusted_smn_signer,
    ),
]


# Completion signalled by OBS notifications (docs/obs.md): the export waits in WaitForObject, a callback
# task whose token is stored in the table. The first wait (WAKE_MAX_WAIT_SECONDS) is long enough for the
# emulated job to write its object within it, so that one check ends each course.
WAKE = {"WAKE_ON_OBS_NOTIFICATION": "true"}
SEEN_TARGET = f"{DEFAULT_BUCKET}:exports/seen.qcow2"


def _notice_seen_before_the_wait(dynamodb: Any, table: str) -> None:
    """An OBS notification of SEEN_TARGET that came while no export waited: its record remembers it."""
    from ims_export.domain.export_request import split_bucket_url
    from ims_export.steps.wake import wake_record_id

    item = {
        "id": {"S": wake_record_id(*split_bucket_url(SEEN_TARGET))},
        "seen_at": {"S": "bf0cc2e36fc8406ebbf309af8be193b5"},
        "expiration": {"N": str(int(time.time()) + 3600)},
    }
    dynamodb.put_item(TableName=table, Item=item)


WAKE_SCENARIOS = [
    # The notification's execution (WakeExports) runs while the export waits and sends it the stored
    # token; the wait lasts 300 s in the replay, so that only the notification can end it in time.
    scenario("wake_woken", manual(seed.DEBIAN_SMALL), settings=WAKE, callback_wait_seconds=300),
    # No notification arrives (lost): the wait times out (States.Timeout) after 2 s, and a check follows.
    scenario(
        "wake_timed_out",
        manual(seed.DEBIAN_SMALL),
        settings=WAKE,
        obs_notifications="lost",
        callback_wait_seconds=2,
    ),
    # The record already says the object was created: the conditional put fails; the settle, the check.
    scenario(
        "wake_seen_before_the_wait",
        manual(seed.DEBIAN_SMALL, bucket_url=SEEN_TARGET, file_format="qcow2"),
        settings=WAKE,
        seed_table=_notice_seen_before_the_wait,
    ),
]


@contextmanager
def small_pages() -> Iterator[None]:
    """Pages of two images and result pieces of 1 KiB: a small fleet takes every path a large one does."""
    from ims_export.fleet import results, selection

    saved = selection.PAGE_SIZE, results.PIECE_BYTES
    selection.PAGE_SIZE, results.PIECE_BYTES = 2, 1024
    try:
        yield
    finally:
        selection.PAGE_SIZE, results.PIECE_BYTES = saved


def _fleet_images(control: Any) -> None:
    control.generate_images(3)
    control.add_image("fleet-whole-ecs", __whole_image="true")


FLEET = {"trigger": "fleet", "name_prefix": "fleet-", "max_concurrency": 1}
FLEET_SCENARIOS = [
    scenario(
        "fleet",
        FLEET,
        prepare_emulator=_fleet_images,
        context=small_pages,
    ),
    scenario(
        "fleet_refused",
        {"trigger": "fleet", "image_ids": ["not-an-image-id"]},
    ),
]
