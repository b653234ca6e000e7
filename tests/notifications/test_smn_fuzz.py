"""Property-based tests: whatever arrives, SMN handling ends in a model or a named error, nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ims_export.errors import InvalidRequestError, SignatureVerificationError
from ims_export.smn.delivery import handle_smn_message, image_created_trace
from ims_export.smn.messages import SmnMessage, looks_like_smn_message, parse_smn_message
from ims_export.smn.verify import SmnVerifier
from tests.notifications.conftest import RecordingFetcher
from tests.notifications.smn_signing import (
    NOW,
    SUBSCRIBE_URL,
    TOPIC_URN,
    SmnSigner,
    create_image_trace,
    documented_string_to_sign,
    notification_body,
    subscription_confirmation_body,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

SIGNED = {
    "Notification": ("message", "message_id", "subject", "timestamp", "topic_urn", "type"),
    "SubscriptionConfirmation": ("message", "message_id", "subscribe_url", "timestamp", "topic_urn", "type"),
}
FIELDS = (
    "type",
    "signature",
    "signature_version",
    "topic_urn",
    "message_id",
    "message",
    "timestamp",
    "signing_cert_url",
    "subject",
    "subscribe_url",
    "unsubscribe_url",
)

hostile_strings = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "../../etc/passwd",
        "'; DROP TABLE images; --",
        "${jndi:ldap://evil}",
        "{{7*7}}",
        "\ud800",
        "x" * 70_000,
        "http://169.254.169.254/latest/meta-data",
        "Notification",
        "2026-11-27T12:00:00Z",
    ]
)


@st.composite
def mangled_messages(draw: st.DrawFn, signer: SmnSigner) -> tuple[dict[str, Any], dict[str, Any]]:
    """A signed message, and a copy with fields removed or replaced by random or hostile values."""
    original = signer.sign(draw(st.sampled_from([notification_body(), subscription_confirmation_body()])))
    body = dict(original)
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True)):
        action = draw(st.sampled_from(["drop", "random", "hostile"]))
        if action == "drop":
            body.pop(field, None)
        elif action == "random":
            body[field] = draw(json_values)
        else:
            body[field] = draw(hostile_strings)
    return original, body


def _parse_or_named_error(body: Any) -> SmnMessage | None:
    try:
        return parse_smn_message(body)
    except InvalidRequestError:
        return None


@FUZZ
@given(body=json_values)
def test_random_json_is_a_message_or_an_invalid_request(body: Any) -> None:
    result = _parse_or_named_error(body)
    assert result is None or isinstance(result, SmnMessage)
    assert _parse_or_named_error(json.dumps(body)) == result
    assert isinstance(looks_like_smn_message(body), bool)


@FUZZ
@given(raw=st.text(max_size=300) | st.binary(max_size=300))
def test_random_text_and_bytes_are_refused_cleanly(raw: str | bytes) -> None:
    result = _parse_or_named_error(raw)
    assert result is None or isinstance(result, SmnMessage)
    assert isinstance(looks_like_smn_message(raw), bool)


def _signed_content(body: dict[str, Any], message_type: str) -> list[Any]:
    return [body.get(field) for field in SIGNED[message_type]]


@FUZZ
@given(data=st.data())
def test_mangled_messages_are_refused_unless_only_unsigned_fields_changed(
    data: st.DataObject, signer: SmnSigner
) -> None:
    original, body = data.draw(mangled_messages(signer))
    verifier = SmnVerifier(RecordingFetcher(signer.pem), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.get(SUBSCRIBE_URL)
        try:
            outcome = handle_smn_message(body, verifier=verifier, session=requests.Session())
        except InvalidRequestError as error:  # SignatureVerificationError included
            assert error.code
            assert len(http.calls) == 0
        else:
            # Accepted: then nothing SMN signs was touched (e.g. only unsubscribe_url was dropped).
            assert _signed_content(body, original["type"]) == _signed_content(original, original["type"])
            assert body["signature"] == original["signature"]
            assert len(http.calls) == (1 if outcome.action == "subscription_confirmed" else 0)


def test_deeply_nested_json_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError):
        parse_smn_message("[" * 100_000 + "]" * 100_000)


# What SMN signs is UTF-8 text: a lone surrogate is no character of it.
TEXT = st.characters(codec="utf-8")
ONE_LINE = st.text(alphabet=st.characters(codec="utf-8", blacklist_characters="\r\n"), max_size=30)


@FUZZ
@given(
    message=st.text(alphabet=TEXT, max_size=200) | json_values.map(json.dumps), subject=st.none() | ONE_LINE
)
def test_any_signed_content_verifies_and_reading_its_trace_never_raises(
    message: str, subject: str | None, signer: SmnSigner
) -> None:
    verifier = SmnVerifier(RecordingFetcher(signer.pem), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW)
    parsed = parse_smn_message(signer.sign(notification_body(message, subject=subject)))
    verifier.verify(parsed)
    trace = image_created_trace(parsed)
    assert trace is None or trace["trace_name"] == "createImage"


@FUZZ
@given(change=st.text(min_size=1, max_size=20))
def test_any_change_to_a_signed_message_is_refused(change: str, signer: SmnSigner) -> None:
    signed = signer.sign(notification_body(json.dumps(create_image_trace())))
    tampered = {**signed, "message": signed["message"] + change}
    with pytest.raises(SignatureVerificationError):
        SmnVerifier(RecordingFetcher(signer.pem), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW).verify(
            parse_smn_message(tampered)
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message_id", "d84bd6620b7a4c6f9a7e0f1e2d3c4b5a\nsubject\nimage created"),
        ("message_id", "../../d84bd662"),
        ("subject", "image\ncreated"),
        ("timestamp", "2026-11-27 12:00:00"),
        ("timestamp", "2026-11-27T12:00:00Z\nx"),
        ("topic_urn", "urn:smn:eu-de:0a41aaaabbbbccccddddeeeeffff0000:image-events\nx"),
        ("topic_urn", "urn:smn:eu-de:0a41:topic:with:colons"),
    ],
    ids=[
        "id-carries-subject",
        "id-path",
        "subject-two-lines",
        "time-not-iso",
        "time-two-lines",
        "urn-two-lines",
        "urn-colons",
    ],
)
def test_a_signed_field_out_of_its_documented_form_is_refused_before_the_signature(
    field: str, value: str, signer: SmnSigner
) -> None:
    body = {**notification_body(json.dumps(create_image_trace()), subject=None), field: value}
    with pytest.raises(InvalidRequestError, match=field):
        parse_smn_message(signer.sign(body))


def test_moving_the_subject_into_the_message_id_keeps_the_signature_but_is_refused(signer: SmnSigner) -> None:
    # The attack: SMN signs "message_id\n<id>\nsubject\n<subject>\n..." and leaves out an empty subject, so
    # "<id>\nsubject\n<subject>" as the message id, without a subject, signs the same string.
    signed = signer.sign(notification_body(json.dumps(create_image_trace()), subject="CTS key event"))
    moved = {**signed, "message_id": f"{signed['message_id']}\nsubject\n{signed['subject']}", "subject": ""}
    assert documented_string_to_sign(moved) == documented_string_to_sign(signed)

    with pytest.raises(InvalidRequestError, match="message_id"):
        parse_smn_message(moved)
