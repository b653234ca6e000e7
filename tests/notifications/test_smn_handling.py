"""Acting on verified SMN messages: confirming subscriptions, finding createImage traces, no side
effects for anything unverified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from pydantic import SecretStr

from ims_export.errors import (
    ImsExportError,
    InvalidRequestError,
    SignatureVerificationError,
    SubscriptionConfirmationError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ims_export.smn.certs import HttpsCertificateFetcher
from ims_export.smn.delivery import confirm_subscription, handle_smn_message, image_created_trace
from ims_export.smn.messages import SmnMessage, parse_smn_message
from ims_export.smn.verify import SmnVerifier
from tests.notifications.conftest import RecordingFetcher
from tests.notifications.smn_signing import (
    CERT_URL,
    IMAGE_ID,
    NOW,
    SUBSCRIBE_TOKEN,
    SUBSCRIBE_URL,
    TOPIC_URN,
    SmnSigner,
    create_image_trace,
    notification_body,
    subscription_confirmation_body,
    unsubscribe_confirmation_body,
)


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _verified(body: dict[str, Any], signer: SmnSigner, verifier: SmnVerifier) -> SmnMessage:
    message = parse_smn_message(signer.sign(body))
    verifier.verify(message)
    return message


# --- confirm_subscription -----------------------------------------------------------------------


def test_confirms_a_verified_subscription(
    http: responses.RequestsMock, signer: SmnSigner, verifier: SmnVerifier
) -> None:
    http.get(SUBSCRIBE_URL, json={"request_id": "r1", "subscription_urn": "urn:smn:eu-de:p:t:s"})
    message = _verified(subscription_confirmation_body(), signer, verifier)
    status = confirm_subscription(message, requests.Session())
    assert status.endswith("confirmed (HTTP 200)")
    assert SUBSCRIBE_TOKEN not in status
    (call,) = http.calls
    assert call.request.url == SUBSCRIBE_URL
    assert call.request.req_kwargs["verify"] not in (False, None, "")  # type: ignore[attr-defined]


def test_never_follows_the_link_of_an_unverified_message(
    http: responses.RequestsMock, signer: SmnSigner
) -> None:
    http.get(SUBSCRIBE_URL)
    message = parse_smn_message(signer.sign(subscription_confirmation_body()))
    with pytest.raises(SignatureVerificationError) as caught:
        confirm_subscription(message, requests.Session())
    assert caught.value.code == "NotVerified"
    assert len(http.calls) == 0


def test_a_copy_changed_after_verification_is_not_verified(
    http: responses.RequestsMock, signer: SmnSigner, verifier: SmnVerifier
) -> None:
    evil = "https://console.otc.t-systems.com/smn/subscription/confirm?token=attacker"
    http.get(evil)
    message = _verified(subscription_confirmation_body(), signer, verifier)
    changed = message.model_copy(update={"subscribe_url": SecretStr(evil)})
    assert message.is_verified
    assert not changed.is_verified
    with pytest.raises(SignatureVerificationError, match="not been verified"):
        confirm_subscription(changed, requests.Session())
    assert len(http.calls) == 0


@pytest.mark.parametrize(
    "subscribe_url",
    [
        "http://console.otc.t-systems.com/smn/subscription/confirm?token=t",
        "https://evil.example/smn/subscription/confirm?token=t",
        "https://console.otc.t-systems.com.evil.example/smn/subscription/confirm?token=t",
        "https://console.otc.t-systems.com@evil.example/smn/subscription/confirm?token=t",
        "https://console.otc.t-systems.com:444/smn/subscription/confirm?token=t",
        "https://console-intl.huaweicloud.com/smn/subscription/confirm?token=t",  # another cloud
    ],
)
def test_refuses_subscribe_urls_off_the_clouds_hosts(
    http: responses.RequestsMock, subscribe_url: str, signer: SmnSigner, verifier: SmnVerifier
) -> None:
    http.get(subscribe_url)
    message = _verified(subscription_confirmation_body(subscribe_url), signer, verifier)
    with pytest.raises(SignatureVerificationError) as caught:
        confirm_subscription(message, requests.Session())
    assert caught.value.code == "SubscribeUrlNotAllowed"
    assert len(http.calls) == 0


@pytest.mark.parametrize(
    "subscribe_url",
    [
        "https://smn.eu-de.otc.t-systems.com/v2/notifications/subscriptions/subscribe?token=t",
        "https://console.otc.t-systems.com/smn/subscription/confirm?token=t",
    ],
)
def test_accepts_the_smn_and_console_hosts_of_the_same_cloud(
    http: responses.RequestsMock, subscribe_url: str, signer: SmnSigner, verifier: SmnVerifier
) -> None:
    http.get(subscribe_url)
    message = _verified(subscription_confirmation_body(subscribe_url), signer, verifier)
    assert "confirmed" in confirm_subscription(message, requests.Session())


def test_allowed_confirmation_hosts_are_configurable(
    http: responses.RequestsMock, signer: SmnSigner, verifier: SmnVerifier
) -> None:
    url = "https://console.example.test/smn/subscription/confirm?token=t"
    http.get(url)
    message = _verified(subscription_confirmation_body(url), signer, verifier)
    hosts = {"otc.t-systems.com": {"console.example.test"}}
    assert "confirmed" in confirm_subscription(message, requests.Session(), allowed_hosts=hosts)
    with pytest.raises(SignatureVerificationError):
        confirm_subscription(message, requests.Session())


def test_the_cloud_domain_of_a_custom_certificate_host_selects_the_confirmation_hosts(
    http: responses.RequestsMock, signer: SmnSigner
) -> None:
    url = "https://console.example.test/smn/subscription/confirm?token=t"
    http.get(url)
    body = {
        **subscription_confirmation_body(url),
        "signing_cert_url": "https://certs.example.test/SMN_eu-de_ab.pem",
    }
    verifier = SmnVerifier(
        RecordingFetcher(signer.pem),
        allowed_cert_url_pattern=r"https://certs\.example\.test/.+",
        allowed_topic_urns={TOPIC_URN},
        clock=lambda: NOW,
    )
    message = _verified(body, signer, verifier)
    assert "confirmed" in confirm_subscription(
        message, requests.Session(), allowed_hosts={"example.test": {"console.example.test"}}
    )
    with pytest.raises(SignatureVerificationError, match="not allowed"):
        confirm_subscription(message, requests.Session())


@pytest.mark.parametrize(
    ("response", "error"),
    [
        ({"status": 400, "json": {"message": "token expired"}}, SubscriptionConfirmationError),
        (
            {"status": 302, "headers": {"Location": "https://console.otc.t-systems.com/x"}},
            SubscriptionConfirmationError,
        ),
        ({"status": 429}, UpstreamThrottledError),
        ({"status": 502}, UpstreamUnavailableError),
        ({"body": requests.ConnectionError("reset")}, UpstreamTimeoutError),
    ],
    ids=["expired", "redirect", "throttled", "5xx", "dropped"],
)
def test_confirmation_failures_are_named_and_never_echo_the_token(
    http: responses.RequestsMock,
    response: dict[str, Any],
    error: type[ImsExportError],
    signer: SmnSigner,
    verifier: SmnVerifier,
) -> None:
    http.get(SUBSCRIBE_URL, **response)
    message = _verified(subscription_confirmation_body(), signer, verifier)
    with pytest.raises(error) as caught:
        confirm_subscription(message, requests.Session())
    assert SUBSCRIBE_TOKEN not in str(caught.value)
    assert SUBSCRIBE_TOKEN not in json.dumps(vars(caught.value), default=str)
    assert len(http.calls) == 1  # one GET, redirects not followed


def test_only_subscription_confirmations_are_confirmed(signer: SmnSigner, verifier: SmnVerifier) -> None:
    for body in (notification_body(), unsubscribe_confirmation_body()):
        with pytest.raises(InvalidRequestError, match="only a SubscriptionConfirmation"):
            confirm_subscription(_verified(body, signer, verifier), requests.Session())


# --- image_created_trace ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(create_image_trace()),
        json.dumps(json.dumps(create_image_trace())),
        json.dumps({"cts": create_image_trace()}),
        json.dumps({"message": json.dumps({"trace": create_image_trace()})}),
        json.dumps([create_image_trace(trace_name="deleteImage"), create_image_trace()]),
        json.dumps(create_image_trace(trace_rating=None, trace_status="normal", resource_type="ims")),
    ],
    ids=["plain", "double-encoded", "cts-wrapper", "nested-wrappers", "list", "trace_status"],
)
def test_finds_the_create_image_trace(text: str, signer: SmnSigner, verifier: SmnVerifier) -> None:
    trace = image_created_trace(_verified(notification_body(text), signer, verifier))
    assert trace is not None
    assert trace["trace_name"] == "createImage"
    assert trace["resource_id"] == IMAGE_ID


@pytest.mark.parametrize(
    "text",
    [
        "plain words, not JSON",
        "",
        "null",
        "[]",
        json.dumps(create_image_trace(trace_name="deleteImage")),
        json.dumps(create_image_trace(trace_rating="warning")),
        json.dumps(create_image_trace(service_type="ECS")),
        json.dumps(create_image_trace(trace_name=["createImage"])),
        json.dumps(create_image_trace(trace_name={"a": 1})),
        json.dumps({"unrelated": {"cts": "x"}}),
        "[" * 5000 + "]" * 5000,
        json.dumps({"a": {"a": {"a": {"a": {"a": {"a": create_image_trace()}}}}}}),
        json.dumps({"cts": {"cts": {"cts": {"cts": {"cts": create_image_trace()}}}}}),
    ],
    ids=[
        "text",
        "empty",
        "null",
        "empty-list",
        "delete",
        "failed",
        "other-service",
        "list-name",
        "dict-name",
        "unrelated",
        "deep-list",
        "unknown-wrapper",
        "too-deep",
    ],
)
def test_anything_else_gives_none(text: str, signer: SmnSigner, verifier: SmnVerifier) -> None:
    assert image_created_trace(_verified(notification_body(text), signer, verifier)) is None


def test_confirmations_carry_no_trace(signer: SmnSigner, verifier: SmnVerifier) -> None:
    assert image_created_trace(_verified(subscription_confirmation_body(), signer, verifier)) is None


def test_no_trace_is_read_from_an_unverified_message(signer: SmnSigner) -> None:
    with pytest.raises(SignatureVerificationError, match="not been verified"):
        image_created_trace(parse_smn_message(signer.sign(notification_body())))


# --- handle_smn_message: the whole path, as the start step runs it --------------------------------


class StartStep:
    """The start step's use of SMN: export the image of a verified createImage notification."""

    def __init__(self, verifier: SmnVerifier) -> None:
        self.verifier = verifier
        self.exports: list[str] = []

    def __call__(self, body: dict[str, Any]) -> str:
        outcome = handle_smn_message(body, verifier=self.verifier, session=requests.Session())
        if outcome.image_id:
            self.exports.append(outcome.image_id)
        return outcome.action


@pytest.fixture
def start_step(http: responses.RequestsMock, signer: SmnSigner) -> StartStep:
    http.get(CERT_URL, body=signer.pem)
    verifier = SmnVerifier(
        HttpsCertificateFetcher(requests.Session()), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW
    )
    return StartStep(verifier)


def test_a_genuine_notification_exports_its_image(start_step: StartStep, signer: SmnSigner) -> None:
    assert start_step(signer.sign(notification_body())) == "image_created"
    assert start_step.exports == [IMAGE_ID]


def test_a_genuine_subscription_is_confirmed(
    start_step: StartStep, http: responses.RequestsMock, signer: SmnSigner
) -> None:
    http.get(SUBSCRIBE_URL)
    assert start_step(signer.sign(subscription_confirmation_body())) == "subscription_confirmed"
    assert [call.request.url for call in http.calls] == [CERT_URL, SUBSCRIBE_URL]
    assert start_step.exports == []


@pytest.mark.parametrize(
    "body",
    [
        notification_body(json.dumps(create_image_trace(trace_name="updateImage"))),
        unsubscribe_confirmation_body(),
    ],
    ids=["other-trace", "unsubscribe"],
)
def test_other_genuine_messages_are_ignored(
    start_step: StartStep, body: dict[str, Any], signer: SmnSigner
) -> None:
    assert start_step(signer.sign(body)) == "ignored"
    assert start_step.exports == []


def test_a_create_image_trace_without_an_image_id_is_an_error(
    start_step: StartStep, signer: SmnSigner
) -> None:
    body = notification_body(json.dumps(create_image_trace(resource_id="not-a-uuid")))
    with pytest.raises(InvalidRequestError, match="no image id"):
        start_step(signer.sign(body))
    assert start_step.exports == []


def test_a_tampered_notification_exports_nothing(start_step: StartStep, signer: SmnSigner) -> None:
    other_image = "00000000-1111-4222-8333-444444444444"
    signed = signer.sign(notification_body())
    signed["message"] = json.dumps(create_image_trace(other_image))
    with pytest.raises(SignatureVerificationError):
        start_step(signed)
    assert start_step.exports == []


def test_a_tampered_confirmation_fetches_no_subscribe_url(
    start_step: StartStep, http: responses.RequestsMock, signer: SmnSigner
) -> None:
    attacker_url = "https://console.otc.t-systems.com/smn/subscription/confirm?token=attacker"
    http.get(attacker_url)
    http.get(SUBSCRIBE_URL)
    signed = signer.sign(subscription_confirmation_body())
    signed["subscribe_url"] = attacker_url
    with pytest.raises(SignatureVerificationError):
        start_step(signed)
    assert [call.request.url for call in http.calls] == [CERT_URL]  # the certificate, nothing else


def test_an_unsigned_message_causes_no_request_at_all(
    start_step: StartStep, http: responses.RequestsMock
) -> None:
    http.get(SUBSCRIBE_URL)
    with pytest.raises(SignatureVerificationError, match="unsigned"):
        start_step(subscription_confirmation_body())
    assert len(http.calls) == 0
    assert start_step.exports == []
