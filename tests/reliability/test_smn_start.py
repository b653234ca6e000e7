"""Deliveries to the SMN endpoint (``{"smn_body": "<raw body>"}``, as its request mapping makes them):
verified first, then confirmed, exported or ignored; anything else is refused without a trace."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import requests
import responses

from ims_export import runtime
from ims_export.errors import UpstreamTimeoutError
from ims_export.smn.delivery import handle_smn_message
from ims_export.smn.handler import HANDLERS as SMN_HANDLERS
from ims_export.smn.verify import SmnVerifier
from localdev.stepfunctions import ExecutionResult, LocalWorkflow
from tests.notifications.conftest import RecordingFetcher
from tests.notifications.smn_signing import (
    IMAGE_ID,
    NOW,
    SUBSCRIBE_URL,
    TOPIC_URN,
    SmnSigner,
    create_image_trace,
    notification_body,
    subscription_confirmation_body,
)
from tests.reliability.conftest import TABLE, CountingTokens, create_idempotency_table, local_workflow
from tests.workflow.conftest import BUS, TOPIC
from tests.workflow.fakes import FakeIms, make_clients, make_image, make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def signer() -> SmnSigner:
    return SmnSigner.generate()


@pytest.fixture
def smn_ims() -> FakeIms:
    ims = FakeIms(tokens=CountingTokens())
    ims.add_image(make_image(IMAGE_ID))
    return ims


@pytest.fixture
def fetcher(signer: SmnSigner) -> RecordingFetcher:
    return RecordingFetcher(signer.pem)


@pytest.fixture
def smn_workflow(smn_ims: FakeIms, fetcher: RecordingFetcher, start_app: Any) -> Iterator[LocalWorkflow]:
    """The state machine with the real start function; its SMN handler verifies with the test key."""
    settings = make_settings(smn_allowed_topic_urns=[TOPIC_URN])
    verifier = SmnVerifier(
        fetcher, allowed_topic_urns=set(settings.smn_allowed_topic_urns), clock=lambda: NOW
    )
    key = (settings.smn_allowed_topic_urns, settings.smn_cert_url_pattern)
    SMN_HANDLERS[key] = partial(handle_smn_message, verifier=verifier, session=requests.Session())
    with runtime.use_clients(make_clients(smn_ims, settings)), local_workflow() as workflow:
        yield workflow


@pytest.fixture
def http(smn_workflow: LocalWorkflow) -> Iterator[responses.RequestsMock]:
    """Every outgoing HTTP call is recorded; only the subscribe URL answers. Started after moto's own
    mock of ``requests``, so that it is the one that sees the calls."""
    del smn_workflow
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(SUBSCRIBE_URL.split("?")[0], status=200, body="confirmed")
        yield mock


def run(workflow: LocalWorkflow, event: Any) -> ExecutionResult:
    return workflow.wait_for(workflow.start_execution(event))


def delivered(body: Any) -> dict[str, str]:
    """The execution input the SMN endpoint starts for a POSTed ``body``."""
    return {"smn_body": body if isinstance(body, str) else json.dumps(body)}


def test_a_signed_create_image_notification_exports_that_image(
    smn_workflow: LocalWorkflow, smn_ims: FakeIms, signer: SmnSigner, http: responses.RequestsMock
) -> None:
    result = run(smn_workflow, delivered(signer.sign(notification_body())))

    assert result.status == "SUCCEEDED"
    assert result.output["image_id"] == IMAGE_ID
    [request] = smn_ims.calls_to("export_image")
    assert request.image_id == IMAGE_ID
    assert len(http.calls) == 0  # nothing but the (faked) certificate fetch


def test_a_signed_message_outside_the_smn_endpoint_is_only_a_bad_trigger(
    smn_workflow: LocalWorkflow, smn_ims: FakeIms, signer: SmnSigner
) -> None:
    result = run(smn_workflow, signer.sign(notification_body()))

    assert result.status == "FAILED"
    assert result.error == "InvalidRequestError"
    assert smn_ims.calls == []


def test_a_redelivered_message_never_exports_twice_whatever_the_object_pattern(
    smn_ims: FakeIms, fetcher: RecordingFetcher, start_app: Any, signer: SmnSigner
) -> None:
    settings = make_settings(
        smn_allowed_topic_urns=[TOPIC_URN],
        idempotency_table=TABLE,
        export_object_pattern="exports/{image_id}-{timestamp}.{format}",
    )
    verifier = SmnVerifier(fetcher, allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW)
    key = (settings.smn_allowed_topic_urns, settings.smn_cert_url_pattern)
    SMN_HANDLERS[key] = partial(handle_smn_message, verifier=verifier, session=requests.Session())
    body = delivered(signer.sign(notification_body()))
    with runtime.use_clients(make_clients(smn_ims, settings)), local_workflow() as workflow:
        create_idempotency_table()
        first = run(workflow, body)
        time.sleep(1.1)  # the redelivery's execution starts a second later: another {timestamp}
        again = run(workflow, body)

    assert first.output["status"] == "SUCCEEDED"
    assert again.output["status"] == "DUPLICATE"
    assert again.output["original_status"] == "SUCCEEDED"
    assert again.output["bucket_url"] == first.output["bucket_url"]  # the first export's object
    assert len(smn_ims.calls_to("export_image")) == 1


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"image_id": IMAGE_ID, "bucket_url": "attacker-bucket:x.qcow2", "file_format": "qcow2"}),
        json.dumps({"resume": {"ticket": "0" * 32}}),
        json.dumps({"image_id": IMAGE_ID}),
        "{}",
        "",
        "not json",
        json.dumps([1, 2]),
    ],
    ids=["manual-trigger", "resume", "image-only", "empty-object", "empty", "not-json", "array"],
)
def test_anything_but_a_verified_smn_message_is_refused_quietly(
    smn_workflow: LocalWorkflow, smn_ims: FakeIms, http: responses.RequestsMock, body: str
) -> None:
    result = run(smn_workflow, delivered(body))

    assert result.status == "SUCCEEDED"  # a refusal, not a failed export: no alarm
    assert result.output["status"] == "REFUSED"
    assert result.output["error"] == "SmnMessageRefusedError"
    assert "image_id" not in result.output
    assert smn_workflow.published_events(BUS) == []
    assert smn_workflow.topic_messages(TOPIC) == []
    assert smn_ims.calls == []
    assert isinstance(smn_ims.tokens, CountingTokens)
    assert smn_ims.tokens.uses == 0
    assert len(http.calls) == 0


def test_a_subscription_confirmation_is_confirmed_and_exports_nothing(
    smn_workflow: LocalWorkflow, smn_ims: FakeIms, signer: SmnSigner, http: responses.RequestsMock
) -> None:
    result = run(smn_workflow, delivered(signer.sign(subscription_confirmation_body())))

    assert result.status == "SUCCEEDED"
    assert result.output["phase"] == "notification_handled"
    assert result.output["action"] == "subscription_confirmed"
    assert [call.request.url for call in http.calls] == [SUBSCRIBE_URL]
    assert smn_ims.calls == []
    assert smn_workflow.published_events(BUS) == []
    # The link's token is a secret: not in the execution's output or history.
    assert "SECRETTOKEN" not in json.dumps(result.output)
    assert "SECRETTOKEN" not in json.dumps(
        [e.get("taskSucceededEventDetails") for e in smn_workflow.history(result.arn)], default=str
    )


def test_another_trace_is_ignored(smn_workflow: LocalWorkflow, smn_ims: FakeIms, signer: SmnSigner) -> None:
    other = json.dumps(create_image_trace(trace_name="deleteImage"))
    result = run(smn_workflow, delivered(signer.sign(notification_body(other))))

    assert result.status == "SUCCEEDED"
    assert result.output["action"] == "ignored"
    assert smn_ims.calls == []


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda body: {**body, "signature": ""}, "Unsigned"),
        (
            lambda body: {
                **body,
                "message": json.dumps(create_image_trace("0" * 8 + "-0000-4000-8000-" + "0" * 12)),
            },
            "SignatureMismatch",
        ),
        (lambda body: {**body, "topic_urn": TOPIC_URN + "-evil"}, "TopicNotAllowed"),
    ],
    ids=["unsigned", "tampered", "foreign-topic"],
)
def test_unsigned_or_tampered_messages_are_refused_without_side_effects(  # noqa: PLR0917 - fixtures
    smn_workflow: LocalWorkflow,
    smn_ims: FakeIms,
    signer: SmnSigner,
    http: responses.RequestsMock,
    tamper: Any,
    code: str,
) -> None:
    result = run(smn_workflow, delivered(tamper(signer.sign(notification_body()))))

    assert result.status == "SUCCEEDED"
    assert result.output["status"] == "REFUSED"
    assert code in result.output["cause"]["errorMessage"]
    assert smn_workflow.published_events(BUS) == []
    assert smn_ims.calls == []
    assert isinstance(smn_ims.tokens, CountingTokens)
    assert smn_ims.tokens.uses == 0  # no IAM call either
    assert len(http.calls) == 0


class UnreachableCertificateHost:
    """A certificate host that never answers (the message names any host the URL pattern admits)."""

    def __init__(self) -> None:
        self.asked = 0

    def fetch(self, url: str) -> Any:
        self.asked += 1
        raise UpstreamTimeoutError("fetching the signing certificate from 'smn.example' failed")


def test_a_message_whose_certificate_cannot_be_fetched_is_retried_then_refused_quietly(
    smn_ims: FakeIms, start_app: Any, signer: SmnSigner
) -> None:
    # Unverified, it may be anybody's: it must not publish a failure, send a mail or trip the alarm.
    settings = make_settings(smn_allowed_topic_urns=[TOPIC_URN])
    host = UnreachableCertificateHost()
    verifier = SmnVerifier(host, allowed_topic_urns=set(settings.smn_allowed_topic_urns), clock=lambda: NOW)
    key = (settings.smn_allowed_topic_urns, settings.smn_cert_url_pattern)
    SMN_HANDLERS[key] = partial(handle_smn_message, verifier=verifier, session=requests.Session())
    with runtime.use_clients(make_clients(smn_ims, settings)), local_workflow() as workflow:
        result = run(workflow, delivered(signer.sign(notification_body())))

        assert result.status == "SUCCEEDED"  # RequestRefused
        assert result.output["status"] == "REFUSED"
        assert result.output["error"] == "SmnCertificateUnavailableError"
        assert host.asked > 1  # retried as a transient failure first
        assert workflow.published_events(BUS) == []
        assert workflow.topic_messages(TOPIC) == []
    assert smn_ims.calls == []
