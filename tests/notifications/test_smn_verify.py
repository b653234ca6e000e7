"""SmnVerifier: genuine messages pass; every other kind is refused with a named reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes

from ims_export.errors import InvalidRequestError, SignatureVerificationError
from ims_export.smn.messages import parse_smn_message
from ims_export.smn.verify import SmnVerifier
from tests.notifications.conftest import RecordingFetcher
from tests.notifications.smn_signing import (
    CERT_URL,
    NOW,
    TOPIC_URN,
    SmnSigner,
    ec_certificate_pem,
    notification_body,
    subscription_confirmation_body,
    unsubscribe_confirmation_body,
)


@pytest.mark.parametrize(
    "body",
    [
        notification_body(subject="CTS key event"),
        notification_body(subject=None),
        notification_body(subject=""),
        notification_body(message='{"unicode": "Grüße ✓", "newline": "a\\nb"}'),
        subscription_confirmation_body(),
        unsubscribe_confirmation_body(),
    ],
    ids=["subject", "no-subject", "empty-subject", "unicode", "subscribe", "unsubscribe"],
)
def test_genuine_messages_verify(
    body: dict[str, Any], signer: SmnSigner, verifier: SmnVerifier, fetcher: RecordingFetcher
) -> None:
    message = parse_smn_message(signer.sign(body))
    assert not message.is_verified
    verifier.verify(message)
    assert message.is_verified
    assert fetcher.urls == [CERT_URL]


def test_signature_version_is_case_insensitive(signer: SmnSigner, verifier: SmnVerifier) -> None:
    message = parse_smn_message({**signer.sign(notification_body()), "signature_version": "V1"})
    verifier.verify(message)
    assert message.is_verified


def test_hash_comes_from_the_certificate(fetcher: RecordingFetcher) -> None:
    signer384 = SmnSigner.generate(hash_algorithm=hashes.SHA384())
    verifier = SmnVerifier(RecordingFetcher(signer384.pem), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW)
    message = parse_smn_message(signer384.sign(notification_body()))
    verifier.verify(message)
    assert message.is_verified


def test_a_signature_over_sha256_fails_against_a_sha384_certificate() -> None:
    signer384 = SmnSigner.generate(hash_algorithm=hashes.SHA384())
    body = notification_body()
    signed_with_sha256 = SmnSigner(key=signer384.key, certificate=SmnSigner.generate().certificate).sign
    verifier = SmnVerifier(RecordingFetcher(signer384.pem), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW)
    with pytest.raises(SignatureVerificationError) as caught:
        verifier.verify(parse_smn_message(signed_with_sha256(body)))
    assert caught.value.code == "SignatureMismatch"


def _without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {k: v for k, v in body.items() if k != key}


def _with(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {**body, **changes}


# Refusals decided before the certificate is fetched: no network call may happen for these.
LOCAL_REFUSALS = [
    ("unsigned", _without("signature"), "Unsigned"),
    ("empty signature", _with(signature=""), "Unsigned"),
    ("bad base64", _with(signature="not*base64!"), "SignatureNotBase64"),
    ("base64 padding only", _with(signature="===="), "SignatureNotBase64"),
    ("version v2", _with(signature_version="v2"), "UnsupportedSignatureVersion"),
    ("no version", _without("signature_version"), "UnsupportedSignatureVersion"),
    ("no cert url", _without("signing_cert_url"), "CertUrlNotHttps"),
    ("plain http cert", _with(signing_cert_url=CERT_URL.replace("https:", "http:")), "CertUrlNotHttps"),
    (
        "foreign host",
        _with(signing_cert_url="https://smn.eu-de.evil.example/smn/SMN_eu-de_ab12.pem"),
        "CertUrlNotAllowed",
    ),
    (
        "look-alike host",
        _with(signing_cert_url="https://smn.eu-de.otc.t-systems.com.evil.example/smn/SMN_eu-de_ab.pem"),
        "CertUrlNotAllowed",
    ),
    (
        "userinfo trick",
        _with(signing_cert_url="https://smn.eu-de.otc.t-systems.com@evil.example/smn/SMN_eu-de_ab.pem"),
        "CertUrlNotAllowed",
    ),
    (
        "port",
        _with(signing_cert_url="https://smn.eu-de.otc.t-systems.com:8443/smn/SMN_eu-de_ab.pem"),
        "CertUrlNotAllowed",
    ),
    ("query", _with(signing_cert_url=CERT_URL + "?x=1"), "CertUrlNotAllowed"),
    (
        "other path",
        _with(signing_cert_url="https://smn.eu-de.otc.t-systems.com/uploads/SMN_eu-de_ab.pem"),
        "CertUrlNotAllowed",
    ),
    (
        "region differs inside url",
        _with(signing_cert_url="https://smn.eu-de.otc.t-systems.com/smn/SMN_eu-nl_ab.pem"),
        "CertUrlNotAllowed",
    ),
    (
        "region differs from topic",
        _with(signing_cert_url="https://smn.eu-nl.otc.t-systems.com/smn/SMN_eu-nl_ab.pem"),
        "CertUrlNotAllowed",
    ),
    ("topic not ours", _with(topic_urn="urn:smn:eu-de:0a41:someone-else"), "TopicNotAllowed"),
    ("stale", _with(timestamp="2026-11-27T10:59:59Z"), "StaleMessage"),
    ("future", _with(timestamp="2026-11-27T12:06:00Z"), "StaleMessage"),
]


@pytest.mark.parametrize(
    ("change", "code"), [case[1:] for case in LOCAL_REFUSALS], ids=[case[0] for case in LOCAL_REFUSALS]
)
def test_refusals_without_any_fetch(
    change: Callable[[dict[str, Any]], dict[str, Any]],
    code: str,
    signer: SmnSigner,
    verifier: SmnVerifier,
    fetcher: RecordingFetcher,
) -> None:
    message = parse_smn_message(change(signer.sign(notification_body())))
    with pytest.raises(SignatureVerificationError) as caught:
        verifier.verify(message)
    assert caught.value.code == code
    assert isinstance(caught.value, InvalidRequestError)  # bad input, never retried
    assert fetcher.urls == []
    assert not message.is_verified


def test_messages_within_the_age_limits_pass(signer: SmnSigner, verifier: SmnVerifier) -> None:
    for timestamp in (NOW - timedelta(minutes=59), NOW + timedelta(minutes=4)):
        message = parse_smn_message(signer.sign(notification_body(timestamp=timestamp)))
        verifier.verify(message)
        assert message.is_verified


def test_max_age_is_configurable(signer: SmnSigner, fetcher: RecordingFetcher) -> None:
    strict = SmnVerifier(
        fetcher, max_age=timedelta(minutes=5), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW
    )
    issued = NOW - timedelta(minutes=6)
    message = parse_smn_message(signer.sign(notification_body(timestamp=issued)))
    with pytest.raises(SignatureVerificationError) as caught:
        strict.verify(message)

    # The refusal names the message's time and age (never its signature).
    assert caught.value.message == (
        f"SMN message refused: its timestamp {issued.isoformat()} is 6m 00s old, more than 5m 00s"
    )
    assert caught.value.code == "StaleMessage"


def test_an_empty_allow_list_accepts_no_topic(signer: SmnSigner, fetcher: RecordingFetcher) -> None:
    message = parse_smn_message(signer.sign(notification_body()))
    with pytest.raises(SignatureVerificationError) as caught:
        SmnVerifier(fetcher, allowed_topic_urns=set(), clock=lambda: NOW).verify(message)
    assert caught.value.code == "TopicNotAllowed"
    assert not message.is_verified
    assert fetcher.urls == []  # refused before any certificate is fetched


def _flip_first(text: str) -> str:
    return ("B" if text[0] == "A" else "A") + text[1:]


# Refusals decided by the signature or the certificate itself.
TAMPERINGS = [
    ("message", _with(message='{"trace_name": "createImage", "resource_id": "evil"}')),
    ("subject added", _with(subject="injected")),
    ("subject changed", _with(subject="CTS key event!")),
    ("topic", _with(topic_urn=TOPIC_URN + "x")),
    ("message id", _with(message_id="another")),
    ("timestamp", _with(timestamp="2026-11-27T12:00:01Z")),
    ("type", _with(type="UnsubscribeConfirmation", subscribe_url="https://console.otc.t-systems.com/x")),
    ("signature bytes", lambda body: {**body, "signature": _flip_first(body["signature"])}),
]


@pytest.mark.parametrize("change", [case[1] for case in TAMPERINGS], ids=[case[0] for case in TAMPERINGS])
def test_tampered_notifications_are_refused(
    change: Callable[[dict[str, Any]], dict[str, Any]], signer: SmnSigner, fetcher: RecordingFetcher
) -> None:
    # Both topics allowed: what refuses a changed topic here is the signature, not the allow-list.
    topics = {TOPIC_URN, TOPIC_URN + "x"}
    verifier = SmnVerifier(fetcher, allowed_topic_urns=topics, clock=lambda: NOW)
    message = parse_smn_message(change(signer.sign(notification_body())))
    with pytest.raises(SignatureVerificationError) as caught:
        verifier.verify(message)
    assert caught.value.code == "SignatureMismatch"
    assert not message.is_verified


def test_removing_a_signed_subject_is_tampering(signer: SmnSigner, verifier: SmnVerifier) -> None:
    signed = signer.sign(notification_body(subject="CTS key event"))
    del signed["subject"]
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verifier.verify(parse_smn_message(signed))


def test_a_tampered_subscribe_url_is_refused(signer: SmnSigner, verifier: SmnVerifier) -> None:
    signed = signer.sign(subscription_confirmation_body())
    signed["subscribe_url"] = "https://console.otc.t-systems.com/smn/subscription/confirm?token=attacker"
    with pytest.raises(SignatureVerificationError, match="does not match"):
        verifier.verify(parse_smn_message(signed))


def test_a_message_signed_with_another_key_is_refused(other_signer: SmnSigner, verifier: SmnVerifier) -> None:
    with pytest.raises(SignatureVerificationError) as caught:
        verifier.verify(parse_smn_message(other_signer.sign(notification_body())))
    assert caught.value.code == "SignatureMismatch"


@pytest.mark.parametrize(
    ("not_before", "not_after"),
    [
        (NOW - timedelta(days=400), NOW - timedelta(seconds=1)),
        (NOW + timedelta(hours=1), NOW + timedelta(days=9)),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_a_certificate_outside_its_validity_is_refused(not_before: Any, not_after: Any) -> None:
    expired = SmnSigner.generate(not_before=not_before, not_after=not_after)
    verifier = SmnVerifier(RecordingFetcher(expired.pem), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW)
    with pytest.raises(SignatureVerificationError) as caught:
        verifier.verify(parse_smn_message(expired.sign(notification_body())))
    assert caught.value.code == "CertificateExpired"


def test_a_certificate_without_an_rsa_key_is_refused(signer: SmnSigner) -> None:
    verifier = SmnVerifier(
        RecordingFetcher(ec_certificate_pem()), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW
    )
    with pytest.raises(SignatureVerificationError) as caught:
        verifier.verify(parse_smn_message(signer.sign(notification_body())))
    assert caught.value.code == "UnsupportedCertificateKey"


def test_a_certificate_with_a_hash_outside_the_accepted_set_is_refused(signer: SmnSigner) -> None:
    sha3_signer = SmnSigner.generate(hash_algorithm=hashes.SHA3_256())
    verifier = SmnVerifier(
        RecordingFetcher(sha3_signer.pem), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW
    )
    with pytest.raises(SignatureVerificationError) as caught:
        verifier.verify(parse_smn_message(sha3_signer.sign(notification_body())))
    assert caught.value.code == "UnsupportedHashAlgorithm"


def test_the_cert_url_pattern_is_configurable(signer: SmnSigner) -> None:
    own_url = "https://certs.example.test/smn/SMN_eu-de_ab.pem"
    fetcher = RecordingFetcher(signer.pem)
    verifier = SmnVerifier(
        fetcher,
        allowed_cert_url_pattern=r"https://certs\.example\.test/smn/[A-Za-z0-9_-]+\.pem",
        allowed_topic_urns={TOPIC_URN},
        clock=lambda: NOW,
    )
    verifier.verify(parse_smn_message(signer.sign({**notification_body(), "signing_cert_url": own_url})))
    with pytest.raises(SignatureVerificationError, match="not allowed"):
        verifier.verify(parse_smn_message(signer.sign(notification_body())))  # the default host now refused
    assert fetcher.urls == [own_url]


@pytest.mark.parametrize(
    "url",
    [
        "https://smn.eu-ch2.sc.otc.t-systems.com/smn/SMN_eu-ch2_0af3.pem",
        "https://smn.ap-southeast-1.myhuaweicloud.com/smn/SMN_ap-southeast-1_0af3.pem",
        "https://smn.eu-west-101.myhuaweicloud.eu/smn/SMN_eu-west-101_0af3.pem",
        "https://smn.eu-nl.otc.t-systems.com/smn/SMN_eu-nl_DEADBEEF.pem",
    ],
)
def test_the_default_pattern_covers_every_smn_cloud(
    url: str, signer: SmnSigner, fetcher: RecordingFetcher
) -> None:
    region = url.split(".")[1]
    topic = f"urn:smn:{region}:0a41:t"
    body = {**notification_body(), "signing_cert_url": url, "topic_urn": topic}
    message = parse_smn_message(signer.sign(body))
    SmnVerifier(fetcher, allowed_topic_urns={topic}, clock=lambda: NOW).verify(message)
    assert message.is_verified


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            _with(topic_urn="urn:smn:eu-de:0a41:someone-else"),
            "SMN message refused: its topic urn:smn:eu-de:0a41:someone-else is not one this endpoint "
            "accepts (SmnAllowedTopicUrns)",
        ),
        (
            _with(timestamp="2026-11-27T12:06:00Z"),
            "SMN message refused: its timestamp 2026-11-27T12:06:00+00:00 is 6m 00s in the future, "
            "more than the 5m 00s clocks may differ",
        ),
    ],
    ids=["topic", "future"],
)
def test_a_refusal_names_the_received_topic_or_time_and_never_the_signature(
    change: Callable[[dict[str, Any]], dict[str, Any]],
    expected: str,
    signer: SmnSigner,
    verifier: SmnVerifier,
) -> None:
    body = change(signer.sign(notification_body()))
    with pytest.raises(SignatureVerificationError) as caught:
        verifier.verify(parse_smn_message(body))

    assert caught.value.message == expected
    assert body["signature"] not in str(caught.value)
