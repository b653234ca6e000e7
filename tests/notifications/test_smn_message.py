"""Parsing SMN HTTP(S) messages, recognising them, and the string SMN signs."""

from __future__ import annotations

import json

import pytest

from ims_export.errors import InvalidRequestError
from ims_export.smn.messages import (
    SmnMessage,
    SmnMessageType,
    looks_like_smn_message,
    parse_smn_message,
    string_to_sign,
)
from tests.notifications.smn_signing import (
    SUBSCRIBE_TOKEN,
    TOPIC_URN,
    documented_string_to_sign,
    notification_body,
    subscription_confirmation_body,
    unsubscribe_confirmation_body,
)


def test_parses_a_notification_from_a_mapping_a_string_and_bytes() -> None:
    body = notification_body()
    for raw in (body, json.dumps(body), json.dumps(body).encode()):
        message = parse_smn_message(raw)
        assert message.type is SmnMessageType.NOTIFICATION
        assert message.topic_urn == TOPIC_URN
        assert message.subject == "CTS key event"
        assert message.topic_region == "eu-de"
        assert message.issued_at.isoformat() == "2026-11-27T12:00:00+00:00"


def test_unknown_fields_are_ignored() -> None:
    message = parse_smn_message({**notification_body(), "new_field": 1})
    assert message.message_id == notification_body()["message_id"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ({**notification_body(), "type": "Bogus"}, "type"),
        ({**notification_body(), "timestamp": "yesterday"}, "timestamp"),
        ({**notification_body(), "topic_urn": "arn:aws:sns:x"}, "topic_urn"),
        ({**notification_body(), "message": 42}, "message"),
        ({**notification_body(), "message_id": ""}, "message_id"),
        (
            {k: v for k, v in subscription_confirmation_body().items() if k != "subscribe_url"},
            "subscribe_url",
        ),
        ({k: v for k, v in notification_body().items() if k != "message"}, "message"),
        ("x" * (600 * 1024), "exceeds"),
        ('{"type": "Notification", "message": "\\ud800"}', "not valid Unicode"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_malformed_messages_are_invalid_requests(body: object, reason: str) -> None:
    with pytest.raises(InvalidRequestError, match=reason):
        parse_smn_message(body)  # type: ignore[arg-type]


def test_recognises_smn_messages_signed_or_not() -> None:
    assert looks_like_smn_message(notification_body())
    assert looks_like_smn_message(json.dumps(subscription_confirmation_body()))
    unsigned = {k: v for k, v in notification_body().items() if k != "signature"}
    assert looks_like_smn_message(unsigned)


@pytest.mark.parametrize(
    "data",
    [
        {"version": "0", "source": "aws.events", "detail": {}},
        {"Type": "Notification", "TopicArn": "arn:aws:sns:eu-central-1:1:t", "MessageId": "1"},
        {**notification_body(), "type": "Other"},
        {**notification_body(), "type": ["Notification"]},
        {**notification_body(), "topic_urn": ["urn:smn:x"]},
        "not json",
        None,
        [notification_body()],
    ],
)
def test_other_events_are_not_taken_for_smn(data: object) -> None:
    assert not looks_like_smn_message(data)


def test_string_to_sign_of_a_notification_is_the_documented_one() -> None:
    message = parse_smn_message(notification_body("hello", subject="S"))
    assert string_to_sign(message) == (
        "message\nhello\n"
        "message_id\nd84bd6620b7a4c6f9a7e0f1e2d3c4b5a\n"
        "subject\nS\n"
        "timestamp\n2026-11-27T12:00:00Z\n"
        f"topic_urn\n{TOPIC_URN}\n"
        "type\nNotification\n"
    )


@pytest.mark.parametrize("subject", [None, ""])
def test_string_to_sign_leaves_out_an_absent_or_empty_subject(subject: str | None) -> None:
    message = parse_smn_message(notification_body("hello", subject=subject))
    assert "subject" not in string_to_sign(message)
    assert string_to_sign(message).startswith("message\nhello\nmessage_id\n")


@pytest.mark.parametrize("body", [subscription_confirmation_body(), unsubscribe_confirmation_body()])
def test_string_to_sign_of_confirmations_includes_the_subscribe_url(body: dict[str, object]) -> None:
    text = string_to_sign(parse_smn_message(body))
    assert text == documented_string_to_sign(body)
    assert text.splitlines()[4:6] == ["subscribe_url", str(body["subscribe_url"])]
    assert text.endswith(f"type\n{body['type']}\n")


def test_subscription_tokens_never_show_in_reprs_or_dumps() -> None:
    for body in (subscription_confirmation_body(), notification_body()):
        message = parse_smn_message(body)
        assert SUBSCRIBE_TOKEN not in repr(message)
        assert SUBSCRIBE_TOKEN not in str(message)
        assert SUBSCRIBE_TOKEN not in message.model_dump_json()


def test_validation_errors_do_not_echo_the_subscribe_url() -> None:
    body = {**subscription_confirmation_body(), "timestamp": "bad"}
    with pytest.raises(InvalidRequestError) as caught:
        parse_smn_message(body)
    assert SUBSCRIBE_TOKEN not in str(caught.value)


def test_messages_are_immutable() -> None:
    message: SmnMessage = parse_smn_message(notification_body())
    with pytest.raises(ValueError, match="frozen"):
        message.message = "changed"  # type: ignore[misc]
