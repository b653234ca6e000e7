"""Simple Message Notification (SMN) HTTP(S) messages: the model, parsed to the documented forms of its
fields, and the string SMN signs.

SMN POSTs a JSON body to an HTTPS subscription (see docs/smn.md). Nothing in a message is trusted
until ``verify.SmnVerifier`` has checked its RSA signature over ``string_to_sign``; the functions that
act on a message (``delivery.confirm_subscription``, ``delivery.image_created_trace``) refuse unverified
ones (``require_verified``).
The subscribe and unsubscribe URLs carry tokens, so they are SecretStr and never shown.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from ims_export.errors import (
    InvalidRequestError,
    SignatureVerificationError,
)
from ims_export.parsing import parse_model

if TYPE_CHECKING:
    pass

MAX_BODY_CHARS = 512 * 1024  # SMN messages are at most 256 KiB; leave room for the envelope
MAX_MESSAGE_CHARS = 256 * 1024
MAX_URL_CHARS = 4096
MAX_NAMED_CHARS = 200  # a value of an unverified message named in a refusal is cut to this
# The documented forms of the signed fields (SMN "HTTP(S) message format"): a topic URN
# ``urn:smn:<region>:<project id>:<topic name>`` (names: letters, digits, '-', '_'; 1-255), a message id of
# letters, digits and '-' (the examples: 32 hex digits), an ISO 8601 UTC timestamp.
TOPIC_URN_PATTERN = r"^urn:smn:[a-z0-9-]{1,64}:[0-9A-Za-z]{1,64}:[A-Za-z0-9_-]{1,255}$"
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9-]{1,128}$"
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
ONE_LINE_PATTERN = r"^[^\r\n]*$"


class SmnMessageType(StrEnum):
    SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
    NOTIFICATION = "Notification"
    UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"


SMN_MESSAGE_TYPES = frozenset(member.value for member in SmnMessageType)

# The signed fields of each message type, in the fixed order of the string to sign.
_CONFIRMATION_FIELDS = ("message", "message_id", "subscribe_url", "timestamp", "topic_urn", "type")
SIGNED_FIELDS: Mapping[SmnMessageType, tuple[str, ...]] = {
    SmnMessageType.NOTIFICATION: ("message", "message_id", "subject", "timestamp", "topic_urn", "type"),
    SmnMessageType.SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_FIELDS,
    SmnMessageType.UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_FIELDS,
}


class SmnMessage(BaseModel):
    """An SMN HTTP(S) message as delivered. Signature fields may be empty: ``verify`` refuses those."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    # Every signed field but ``message`` is one line in its documented form: the string to sign is
    # ``key\nvalue\n`` per field, so a field that could hold a line break could carry the next field
    # (a subject moved into the message id), and one signed string would have two readings.
    type: SmnMessageType = Field(strict=False)  # JSON gives the value, not the enum member
    topic_urn: str = Field(pattern=TOPIC_URN_PATTERN, max_length=512)
    message_id: str = Field(pattern=MESSAGE_ID_PATTERN)
    message: str = Field(max_length=MAX_MESSAGE_CHARS)
    timestamp: str = Field(pattern=TIMESTAMP_PATTERN)
    signature: str = Field(default="", max_length=4096)
    signature_version: str = Field(default="", max_length=16)
    signing_cert_url: str = Field(default="", max_length=MAX_URL_CHARS)
    subject: str | None = Field(default=None, max_length=512, pattern=ONE_LINE_PATTERN)
    subscribe_url: SecretStr | None = Field(default=None, max_length=MAX_URL_CHARS)
    unsubscribe_url: SecretStr | None = Field(default=None, max_length=MAX_URL_CHARS)

    # Fingerprint of what SmnVerifier checked; a copy with changed fields no longer matches it.
    _verified_fingerprint: str | None = PrivateAttr(default=None)

    @field_validator("*", mode="before")
    @classmethod
    def _text_is_utf8(cls, value: Any) -> Any:
        # JSON may carry lone surrogates ("\ud800"); SMN signs UTF-8, so such text cannot be genuine.
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ValueError("text is not valid Unicode") from None
        return value

    @field_validator("subscribe_url", "unsubscribe_url", mode="before")
    @classmethod
    def _url_is_one_line(cls, value: Any) -> Any:
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            raise ValueError("a URL is one line")
        return value

    @field_validator("timestamp")
    @classmethod
    def _timestamp_is_iso8601(cls, value: str) -> str:
        _parse_timestamp(value)
        return value  # kept verbatim: it is part of the signed string

    @model_validator(mode="after")
    def _confirmations_carry_subscribe_url(self) -> SmnMessage:
        if self.type is not SmnMessageType.NOTIFICATION and self.subscribe_url is None:
            raise ValueError(f"a {self.type.value} message needs subscribe_url")
        return self

    @property
    def issued_at(self) -> datetime:
        return _parse_timestamp(self.timestamp)

    @property
    def topic_region(self) -> str:
        return self.topic_urn.split(":")[2]

    @property
    def is_verified(self) -> bool:
        """True once SmnVerifier accepted exactly this content."""
        return self._verified_fingerprint is not None and self._verified_fingerprint == signed_fingerprint(
            self
        )


def _parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)  # ValueError on anything else: a validation error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def signed_fingerprint(message: SmnMessage) -> str:
    covered = f"{string_to_sign(message)}{message.signing_cert_url}\n{message.signature}"
    return hashlib.sha256(covered.encode()).hexdigest()


def _json_object(body: str | bytes) -> Any:
    if len(body) > MAX_BODY_CHARS:
        raise InvalidRequestError(f"the SMN message exceeds {MAX_BODY_CHARS} characters", code="TooLarge")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidRequestError("the SMN message is not JSON", code="NotJson") from None


def parse_smn_message(body: Mapping[str, Any] | str | bytes) -> SmnMessage:
    """The message in a decoded or raw JSON body; InvalidRequestError when it is not a well-formed one."""
    data = _json_object(body) if isinstance(body, str | bytes) else body
    if not isinstance(data, Mapping):
        raise InvalidRequestError("the SMN message is not a JSON object", code="ValidationError")
    return parse_model(SmnMessage, dict(data))


def looks_like_smn_message(data: object) -> bool:
    """Whether ``data`` is shaped like an SMN HTTP(S) message (signed or not): for routing, not trust."""
    if isinstance(data, str | bytes):
        try:
            data = _json_object(data)
        except InvalidRequestError:
            return False
    if not isinstance(data, Mapping):
        return False
    message_type = data.get("type")
    return (
        isinstance(message_type, str)
        and message_type in SMN_MESSAGE_TYPES
        and isinstance(data.get("topic_urn"), str)
        and data["topic_urn"].startswith("urn:smn:")
        and "message_id" in data
    )


def _signed_value(message: SmnMessage, field: str) -> str | None:
    value = getattr(message, field)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, SmnMessageType):
        return value.value
    return value if isinstance(value, str) else None


def string_to_sign(message: SmnMessage) -> str:
    """``key\\nvalue\\n`` for each signed field in the fixed order; an absent or empty subject is left out."""
    lines = []
    for field in SIGNED_FIELDS[message.type]:
        value = _signed_value(message, field)
        if field == "subject" and not value:
            continue
        lines.append(f"{field}\n{value or ''}\n")
    return "".join(lines)


def refusal(reason: str, code: str) -> SignatureVerificationError:
    return SignatureVerificationError(f"SMN message refused: {reason}", code=code)


def require_verified(message: SmnMessage) -> None:
    if not message.is_verified:
        raise refusal("it has not been verified", "NotVerified")
