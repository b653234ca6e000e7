"""Throwaway SMN signing keys and messages signed exactly as SMN documents it.

The string to sign is built here from the documented procedure, independently of
``ims_export.smn.messages.string_to_sign``, so that a mistake there makes the verification tests fail.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
REGION = "eu-de"
CERT_URL = "https://smn.eu-de.otc.t-systems.com/smn/SMN_eu-de_3190a1b2c3d4e5f6.pem"
TOPIC_URN = "urn:smn:eu-de:0a41aaaabbbbccccddddeeeeffff0000:image-events"
SUBSCRIBE_TOKEN = "0a419ac94f80f2c62f14c01e34ae5dfcSECRETTOKEN"
SUBSCRIBE_URL = (
    f"https://console.otc.t-systems.com/smn/subscription/confirm?token={SUBSCRIBE_TOKEN}"
    f"&topic_urn={TOPIC_URN}&region={REGION}"
)
UNSUBSCRIBE_URL = f"https://console.otc.t-systems.com/smn/subscription/unsubscribe?token={SUBSCRIBE_TOKEN}"
IMAGE_ID = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"

_NOTIFICATION_KEYS = ("message", "message_id", "subject", "timestamp", "topic_urn", "type")
_CONFIRMATION_KEYS = ("message", "message_id", "subscribe_url", "timestamp", "topic_urn", "type")


def documented_string_to_sign(body: dict[str, Any]) -> str:
    """The reference procedure, verbatim: key and value lines, subject left out when absent or empty."""
    keys = _NOTIFICATION_KEYS if body["type"] == "Notification" else _CONFIRMATION_KEYS
    return "".join(
        f"{key}\n{body[key]}\n" for key in keys if not (key == "subject" and not body.get("subject"))
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class SmnSigner:
    """A key and its self-signed certificate, standing in for SMN's signing certificate."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def generate(
        cls,
        *,
        hash_algorithm: hashes.SHA256 | hashes.SHA384 | hashes.SHA3_256 | None = None,
        not_before: datetime = NOW - timedelta(days=30),
        not_after: datetime = NOW + timedelta(days=365),
    ) -> SmnSigner:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("smn.eu-de.otc.t-systems.com"))
            .issuer_name(_name("test SMN CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .sign(key, hash_algorithm or hashes.SHA256())
        )
        return cls(key=key, certificate=certificate)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def sign(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with the signature SMN would give it (hash of the certificate, as SMN's Java sample)."""
        algorithm = self.certificate.signature_hash_algorithm or hashes.SHA256()
        raw = self.key.sign(documented_string_to_sign(body).encode(), padding.PKCS1v15(), algorithm)
        return {**body, "signature": base64.b64encode(raw).decode()}


def ec_certificate_pem() -> bytes:
    """A certificate whose key is not RSA."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("ec"))
        .issuer_name(_name("ec"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def create_image_trace(image_id: str = IMAGE_ID, **overrides: Any) -> dict[str, Any]:
    return {
        "trace_id": "c6a1e0b2-0000-4000-8000-000000000001",
        "trace_name": "createImage",
        "trace_rating": "normal",
        "trace_type": "ApiCall",
        "service_type": "IMS",
        "resource_type": "image",
        "resource_id": image_id,
        "resource_name": "web-golden",
        "time": 1795780800000,
        **overrides,
    }


def _envelope(message_type: str, message: str, timestamp: datetime) -> dict[str, Any]:
    return {
        "type": message_type,
        "topic_urn": TOPIC_URN,
        "message_id": "d84bd6620b7a4c6f9a7e0f1e2d3c4b5a",
        "message": message,
        "timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signature_version": "v1",
        "signing_cert_url": CERT_URL,
    }


def notification_body(
    message: str | None = None, *, subject: str | None = "CTS key event", timestamp: datetime = NOW
) -> dict[str, Any]:
    text = json.dumps(create_image_trace()) if message is None else message
    body = {**_envelope("Notification", text, timestamp), "unsubscribe_url": UNSUBSCRIBE_URL}
    if subject is not None:
        body["subject"] = subject
    return body


def subscription_confirmation_body(
    subscribe_url: str = SUBSCRIBE_URL, *, timestamp: datetime = NOW
) -> dict[str, Any]:
    text = f"You are invited to subscribe to topic {TOPIC_URN}. Visit subscribe_url to confirm."
    return {**_envelope("SubscriptionConfirmation", text, timestamp), "subscribe_url": subscribe_url}


def unsubscribe_confirmation_body(*, timestamp: datetime = NOW) -> dict[str, Any]:
    text = f"You have unsubscribed from topic {TOPIC_URN}."
    return {**_envelope("UnsubscribeConfirmation", text, timestamp), "subscribe_url": SUBSCRIBE_URL}
