"""The emulator's OBS event notifications, delivered as SMN delivers them to the stack's endpoint.

With ``WAKE_ON_OBS_NOTIFICATION`` in a local run on the built-in emulator (one export, or a fleet's):
each time an export waits in ``WaitForObject``, the notifier looks whether an emulated job writes its
object within that wait. If one does, the clock moves to the write and a second later, the emulator's
SMN signs an OBS notification of the object (the ``s3`` form of OTC's public cloud), and the execution
the SMN endpoint would start for it runs: the wait of the export of that object ends with the notice
(in a fleet it may be another export than the one whose wait looked: a notice that finds its export
between two waits is remembered, and that export's next wait goes to its check at once, after the
settle, as in the cloud).
``--obs-notifications lost`` drops every notification instead, so the waits run their course and polling
sees the end. A failed job
writes nothing, and so notifies nothing, as OBS does.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote_plus

from ims_export.cloud.http import new_session
from ims_export.settings import Settings
from ims_export.smn.certs import DEFAULT_CERT_URL_PATTERN
from ims_export.smn.delivery import handle_smn_message
from ims_export.smn.handler import HANDLERS, handler_key
from ims_export.smn.verify import SmnVerifier
from localdev.emulator.control import Control
from localdev.emulator.smn import EmulatorSmn
from localdev.runner.layout import NOTIFICATION_EXECUTION_PREFIX
from localdev.stepfunctions import LocalWorkflow

DELIVERY_SECONDS = 1.0  # from the object's write to SMN's POST
DELIVERED, LOST = "delivered", "lost"


def object_created_message(
    bucket: str, key: str, size_bytes: int, at: datetime, region: str
) -> dict[str, Any]:
    """An OBS notification of one created object, in the form OTC's OBS user guide documents
    ("SMN-Enabled Event Notifications": eventVersion 2.0, an ``s3`` block, the key URL-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.0",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "ims-export",
                    "bucket": {"name": bucket},
                    "object": {"key": quote_plus(key, safe="/"), "size": size_bytes},
                },
            }
        ]
    }


class ObsNotifier:
    """Delivers the emulated exports' notifications while an export waits for its object."""

    def __init__(self, control: Control, *, mode: str = DELIVERED) -> None:
        self.control = control
        self.region = control.region
        self.smn = EmulatorSmn(control.region, control.project_id)
        self.mode = mode
        self.notified: set[str] = set()
        self.workflow: LocalWorkflow | None = None
        self.say: Callable[[str], None] = lambda text: None
        self.export_machine: str | None = None
        self._delivered_at: datetime | None = None  # the delivery under way
        # A fleet's exports wait in parallel threads: one notification is delivered at a time.
        self._lock = threading.Lock()

    @property
    def topic_urn(self) -> str:
        return self.smn.topic_urn

    def install(
        self,
        settings: Settings,
        workflow: LocalWorkflow,
        say: Callable[[str], None],
        *,
        export_machine: str | None = None,
    ) -> None:
        """Trust this topic's certificate in the start function, and listen to the exports' waits; the
        SMN endpoint starts the workflow's state machine, or ``export_machine`` (a fleet's children's)."""
        verifier = SmnVerifier(
            self.smn,
            allowed_cert_url_pattern=settings.smn_cert_url_pattern or DEFAULT_CERT_URL_PATTERN,
            allowed_topic_urns={self.topic_urn},
            clock=self._endpoint_time,
        )
        HANDLERS[handler_key(settings)] = partial(
            handle_smn_message, verifier=verifier, session=new_session()
        )
        self.workflow, self.say, self.export_machine = workflow, say, export_machine
        workflow.on_callback = self.on_callback

    def _endpoint_time(self) -> datetime:
        """The time the SMN endpoint checks a message against: its delivery's. In a fleet run the other
        exports' waits move the shared clock on meanwhile, which no endpoint would see."""
        return self._delivered_at or datetime.fromtimestamp(self.control.now(), UTC)

    def on_callback(self, wait_seconds: float) -> None:
        with self._lock:
            self._deliver_within(wait_seconds)

    def _deliver_within(self, wait_seconds: float) -> None:
        now = self.control.now()
        due = [
            write
            for write in self.control.export_writes()
            if write.job_id not in self.notified and write.written_at <= now + wait_seconds
        ]
        if not due or self.workflow is None:
            return  # nothing is written within this wait: it runs its course
        write = min(due, key=lambda item: item.written_at)
        self.notified.add(write.job_id)
        if self.mode == LOST:
            self.say(
                f"   OBS notification of {write.bucket}/{write.key} lost (OBS_NOTIFICATIONS=lost): "
                "polling sees the end"
            )
            return
        self.control.advance(max(write.written_at - now, 0.0) + DELIVERY_SECONDS)
        written = datetime.fromtimestamp(write.written_at, UTC)  # the event's time; SMN's is its delivery's
        delivered = datetime.fromtimestamp(self.control.now(), UTC)
        body = self.smn.notification(
            object_created_message(write.bucket, write.key, write.size_bytes, written, self.region), delivered
        )
        self._delivered_at = delivered
        started = self.workflow.start_execution(
            {"smn_body": body},
            name=f"{NOTIFICATION_EXECUTION_PREFIX}{uuid.uuid4()}",
            machine=self.export_machine,
        )
        try:
            result = self.workflow.wait_for(started)
        finally:
            self._delivered_at = None
        what = (
            _what_it_did(result.output) if result.status == "SUCCEEDED" else f"{result.error}: {result.cause}"
        )
        self.say(f"   OBS notification: {write.bucket}/{write.key} created; {what}")


def _what_it_did(output: Any) -> str:
    """What the notification's execution did, in words."""
    woken = output.get("woken") if isinstance(output, dict) else None
    if isinstance(woken, list) and any("woken" in item for item in woken):
        return "it ended the export's wait"
    if isinstance(woken, list):
        return "no export was waiting for it"
    return f"not acted on: {json.dumps(output)[:300]}"
