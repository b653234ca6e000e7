"""Simple Message Notification (SMN) HTTP(S) messages: parse, verify the signature, confirm, read the trace.

SMN POSTs a JSON body to an HTTPS subscription (see docs/smn.md). Nothing in a message is trusted
until ``SmnVerifier.verify`` has checked its RSA signature over the documented string; the functions
that act on a message (``confirm_subscription``, ``image_created_trace``) refuse unverified ones.
The subscribe and unsubscribe URLs carry tokens, so they are SecretStr and never shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from ims_export.clock import duration_text, utc_now
from ims_export.cloud.http import timeouts
from ims_export.errors import (
    InvalidRequestError,
    SignatureVerificationError,
    SubscriptionConfirmationError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ims_export.parsing import parse_model
from ims_export.smn.certs import (
    DEFAULT_CERT_URL_PATTERN,
    CertificateFetcher,
    CertUrlPolicy,
    HttpsCertificateFetcher,
)
from ims_export.triggers.cts import image_id_from_trace, is_image_created_trace

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

MAX_BODY_CHARS = 512 * 1024  # SMN messages are at most 256 KiB; leave room for the envelope
MAX_MESSAGE_CHARS = 256 * 1024
MAX_URL_CHARS = 4096
MAX_NAMED_CHARS = 200  # a value of an unverified message named in a refusal is cut to this
SUPPORTED_SIGNATURE_VERSIONS = frozenset({"v1"})
# The documented forms of the signed fields (SMN "HTTP(S) message format"): a topic URN
# ``urn:smn:<region>:<project id>:<topic name>`` (names: letters, digits, '-', '_'; 1-255), a message id of
# letters, digits and '-' (the examples: 32 hex digits), an ISO 8601 UTC timestamp.
TOPIC_URN_PATTERN = r"^urn:smn:[a-z0-9-]{1,64}:[0-9A-Za-z]{1,64}:[A-Za-z0-9_-]{1,255}$"
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9-]{1,128}$"
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
ONE_LINE_PATTERN = r"^[^\r\n]*$"
ACCEPTED_HASH_NAMES = frozenset({"sha1", "sha224", "sha256", "sha384", "sha512"})

# Hosts that may serve the subscription links of each SMN cloud domain, besides the SMN host itself
# (smn.<region>.<domain>). The documentation masks the host ("console.******.com"): these are the
# public console names of each cloud; pass ``allowed_hosts`` to change them.
DEFAULT_CONFIRM_HOSTS: Mapping[str, frozenset[str]] = {
    "otc.t-systems.com": frozenset({"console.otc.t-systems.com"}),
    "sc.otc.t-systems.com": frozenset({"console.sc.otc.t-systems.com"}),
    "myhuaweicloud.com": frozenset(
        {"console.huaweicloud.com", "console-intl.huaweicloud.com", "console.myhuaweicloud.com"}
    ),
    "myhuaweicloud.eu": frozenset({"console.eu.huaweicloud.com", "console.myhuaweicloud.eu"}),
}


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
        return self._verified_fingerprint is not None and self._verified_fingerprint == _fingerprint(self)


def _parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)  # ValueError on anything else: a validation error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _fingerprint(message: SmnMessage) -> str:
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


def _refuse(reason: str, code: str) -> SignatureVerificationError:
    return SignatureVerificationError(f"SMN message refused: {reason}", code=code)


class SmnVerifier:
    """Checks that a message comes from SMN, is recent and, optionally, from one of our topics."""

    def __init__(
        self,
        cert_fetcher: CertificateFetcher,
        *,
        allowed_cert_url_pattern: str | re.Pattern[str] = DEFAULT_CERT_URL_PATTERN,
        allowed_topic_urns: Collection[str],
        max_age: timedelta = timedelta(hours=1),
        max_clock_skew: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.cert_fetcher = cert_fetcher
        self.url_policy = CertUrlPolicy(allowed_cert_url_pattern)
        # Only the topics named: an empty allow-list accepts no message at all, never every message.
        self.allowed_topic_urns = frozenset(allowed_topic_urns)
        self.max_age = max_age
        self.max_clock_skew = max_clock_skew
        self.clock = clock

    def verify(self, message: SmnMessage) -> None:
        """Return if the message is authentic, else raise SignatureVerificationError (code says why).

        Cheap local checks come first, so that a refused message causes no network call at all.
        """
        if not message.signature:
            raise _refuse("it is unsigned", "Unsigned")
        if message.signature_version.lower() not in SUPPORTED_SIGNATURE_VERSIONS:
            raise _refuse("unsupported signature_version", "UnsupportedSignatureVersion")
        cert_url = self.url_policy.check(message.signing_cert_url)
        if cert_url.region is not None and cert_url.region != message.topic_region:
            raise _refuse("certificate region differs from the topic's", "CertUrlNotAllowed")
        if message.topic_urn not in self.allowed_topic_urns:
            raise _refuse(
                f"its topic {message.topic_urn[:MAX_NAMED_CHARS]} is not one this endpoint accepts "
                "(SmnAllowedTopicUrns)",
                "TopicNotAllowed",
            )
        signature = _decode_signature(message.signature)
        self._check_fresh(message)
        certificate = self.cert_fetcher.fetch(message.signing_cert_url)
        self._check_certificate_valid(certificate)
        _verify_rsa(certificate, signature, string_to_sign(message).encode())
        message._verified_fingerprint = _fingerprint(message)

    def _check_fresh(self, message: SmnMessage) -> None:
        issued_at = message.issued_at
        age = self.clock() - issued_at
        # Whole seconds: the parsed timestamp and its age, never the raw field.
        stamp, off_by = issued_at.isoformat(), duration_text(abs(age.total_seconds()))
        if age > self.max_age:
            limit = duration_text(self.max_age.total_seconds())
            raise _refuse(f"its timestamp {stamp} is {off_by} old, more than {limit}", "StaleMessage")
        if age < -self.max_clock_skew:
            raise _refuse(
                f"its timestamp {stamp} is {off_by} in the future, more than the "
                f"{duration_text(self.max_clock_skew.total_seconds())} clocks may differ",
                "StaleMessage",
            )

    def _check_certificate_valid(self, certificate: x509.Certificate) -> None:
        now = self.clock()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise _refuse("the signing certificate is not valid now", "CertificateExpired")


def new_smn_verifier(
    session: requests.Session | None = None,
    *,
    allowed_cert_url_pattern: str | re.Pattern[str] = DEFAULT_CERT_URL_PATTERN,
    allowed_topic_urns: Collection[str],
    max_age: timedelta = timedelta(hours=1),
) -> SmnVerifier:
    """A verifier that fetches certificates over HTTPS, both held to the same URL pattern.

    Create it once per execution environment (at module level) so that its certificate cache is reused.
    """
    fetcher = HttpsCertificateFetcher(session, url_policy=CertUrlPolicy(allowed_cert_url_pattern))
    return SmnVerifier(
        fetcher,
        allowed_cert_url_pattern=allowed_cert_url_pattern,
        allowed_topic_urns=allowed_topic_urns,
        max_age=max_age,
    )


def _decode_signature(signature: str) -> bytes:
    try:
        decoded = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse("the signature is not base64", "SignatureNotBase64") from None
    if not decoded:
        raise _refuse("the signature is empty", "SignatureNotBase64")
    return decoded


def _signature_hash(certificate: x509.Certificate) -> hashes.HashAlgorithm:
    """The certificate's own signature hash (as SMN's Java sample does), SHA-256 when it has none."""
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415 - see _verify_rsa
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415

    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    if algorithm is None:
        return hashes.SHA256()
    if algorithm.name not in ACCEPTED_HASH_NAMES:
        raise _refuse(f"hash {algorithm.name} is not accepted", "UnsupportedHashAlgorithm")
    return algorithm


def _verify_rsa(certificate: x509.Certificate, signature: bytes, signed: bytes) -> None:
    # cryptography is imported only when a message is verified: it is the heaviest import of the
    # package, and most start invocations never see an SMN message.
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: PLC0415

    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise _refuse("the signing certificate has no RSA key", "UnsupportedCertificateKey")
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), _signature_hash(certificate))
    except InvalidSignature:
        raise _refuse("the signature does not match", "SignatureMismatch") from None


def _require_verified(message: SmnMessage) -> None:
    if not message.is_verified:
        raise _refuse("it has not been verified", "NotVerified")


def _cloud_domain(cert_host: str) -> str:
    """``smn.<region>.<domain>`` gives ``<domain>``; any other certificate host drops its first label."""
    labels = cert_host.split(".")
    return ".".join(labels[2:] if labels[0] == "smn" and len(labels) > 3 else labels[1:])


def _confirm_host_allowed(
    message: SmnMessage, host: str, allowed_hosts: Mapping[str, Collection[str]]
) -> bool:
    """The host is the certificate's own host, or serves subscription links of the cloud whose SMN
    signed the message (``allowed_hosts`` maps a cloud domain to those hosts)."""
    cert_host = urlsplit(message.signing_cert_url).hostname or ""
    return bool(cert_host) and (host == cert_host or host in allowed_hosts.get(_cloud_domain(cert_host), ()))


def confirm_subscription(
    message: SmnMessage,
    session: requests.Session,
    *,
    allowed_hosts: Mapping[str, Collection[str]] = DEFAULT_CONFIRM_HOSTS,
    connect_timeout_seconds: float = 3.05,
    read_timeout_seconds: float = 10.0,
) -> str:
    """GET the subscribe_url of a verified SubscriptionConfirmation; return a short status.

    The link is only followed when it is HTTPS on the SMN or console host of the same cloud as the
    certificate; redirects are not followed. The link's token never appears in errors.
    """
    _require_verified(message)
    if message.type is not SmnMessageType.SUBSCRIPTION_CONFIRMATION or message.subscribe_url is None:
        raise InvalidRequestError("only a SubscriptionConfirmation can be confirmed", code="NotConfirmation")
    url = message.subscribe_url.get_secret_value()
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" or "@" in parts.netloc or parts.port is not None:
        raise _refuse("the subscribe URL is not plain HTTPS", "SubscribeUrlNotAllowed")
    if not _confirm_host_allowed(message, host, allowed_hosts):
        raise _refuse(f"the subscribe URL host {host!r} is not allowed", "SubscribeUrlNotAllowed")
    try:
        with session.get(
            url,
            timeout=timeouts(connect_timeout_seconds, read_timeout_seconds),
            verify=True,
            allow_redirects=False,
            stream=True,
        ) as response:
            status = response.status_code
    except (requests.Timeout, requests.ConnectionError):
        raise UpstreamTimeoutError(f"confirming the subscription at {host!r} failed") from None
    if status == 429:
        raise UpstreamThrottledError("SMN throttled the subscription confirmation", status=status)
    if status >= 500:
        raise UpstreamUnavailableError(f"{host!r} answered {status} to the confirmation", status=status)
    if not 200 <= status < 300:
        raise SubscriptionConfirmationError(
            f"{host!r} answered {status} to the confirmation (expired or used link?)", status=status
        )
    return f"subscription to {message.topic_urn} confirmed (HTTP {status})"


# Keys under which a trace may be wrapped, tried in this order, and how deep to look.
TRACE_WRAPPER_KEYS = ("cts", "trace", "detail", "data", "message", "body", "content")
MAX_TRACE_DEPTH = 4
MAX_TRACE_LIST_ITEMS = 50


def _nested(value: Any) -> list[Any]:
    """The values inside ``value`` that may hold a trace: decoded JSON, list items, wrapper keys."""
    if isinstance(value, str):
        try:
            return [json.loads(value)]  # may be encoded more than once
        except (ValueError, RecursionError):
            return []
    if isinstance(value, list):
        return value[:MAX_TRACE_LIST_ITEMS]
    if isinstance(value, Mapping):
        return [value.get(key) for key in TRACE_WRAPPER_KEYS]
    return []


def _find_image_created_trace(value: Any, depth: int) -> Mapping[str, Any] | None:
    if depth > MAX_TRACE_DEPTH:
        return None
    if isinstance(value, Mapping) and "trace_name" in value:
        is_trace = isinstance(value["trace_name"], str) and is_image_created_trace(value)
        return value if is_trace else None
    for inner in _nested(value):
        found = _find_image_created_trace(inner, depth + 1)
        if found is not None:
            return found
    return None


def image_created_trace(message: SmnMessage) -> Mapping[str, Any] | None:
    """The successful IMS ``createImage`` CTS trace a verified Notification carries, or None.

    The body is not documented: the trace may be JSON in ``message``, encoded twice, or wrapped
    (``{"cts": {...}}``, a list of traces, ...). Anything else gives None, never an exception.
    """
    _require_verified(message)
    if message.type is not SmnMessageType.NOTIFICATION:
        return None
    return _find_image_created_trace(message.message, 0)


class SmnOutcome(BaseModel):
    """What handling one SMN message led to; ``image_id`` is set only for an image-created trace."""

    model_config = ConfigDict(frozen=True)

    action: Literal["subscription_confirmed", "image_created", "ignored"]
    topic_urn: str
    message_id: str
    image_id: str | None = None
    detail: str = ""


def handle_smn_message(
    body: Mapping[str, Any] | str | bytes,
    *,
    verifier: SmnVerifier,
    session: requests.Session,
    allowed_hosts: Mapping[str, Collection[str]] = DEFAULT_CONFIRM_HOSTS,
) -> SmnOutcome:
    """Parse, verify, then confirm a subscription or find the created image. Raises before any side
    effect when the message is malformed or not authentic."""
    message = parse_smn_message(body)
    verifier.verify(message)
    base = {"topic_urn": message.topic_urn, "message_id": message.message_id}
    if message.type is SmnMessageType.SUBSCRIPTION_CONFIRMATION:
        status = confirm_subscription(message, session, allowed_hosts=allowed_hosts)
        return SmnOutcome(action="subscription_confirmed", detail=status, **base)
    if message.type is SmnMessageType.UNSUBSCRIBE_CONFIRMATION:
        return SmnOutcome(action="ignored", detail="unsubscribed from the topic", **base)
    trace = image_created_trace(message)
    if trace is None:
        return SmnOutcome(action="ignored", detail="not an IMS createImage trace", **base)
    image_id = image_id_from_trace(trace)
    if image_id is None:
        raise InvalidRequestError("the createImage trace names no image id", code="ImageIdMissing")
    return SmnOutcome(action="image_created", image_id=image_id, **base)
