"""The emulator's SMN: a signing key and its certificate, standing in for SMN's, that sign the
notifications the emulator's OBS publishes (``localdev.obs_notifier``, and ``smn_topics`` for the topics
made through the emulated SMN API) and the subscription confirmations, as SMN signs a delivery.

The certificate is handed to the local run's verifier in process (``certificate``): it is never served,
so its URL is one of SMN's own form and nothing fetches it.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from ims_export.smn.messages import parse_smn_message, string_to_sign

CERT_URL = "https://smn.{region}.otc.t-systems.com/smn/SMN_{region}_0e0e0e0e0e0e.pem"  # SMN's form
TOPIC_NAME = "ims-export-obs-events"


class EmulatorSmn:
    """Signs notifications of one topic with a key made for this run."""

    def __init__(self, region: str, project_id: str) -> None:
        self.region = region
        self.topic_urn = f"urn:smn:{region}:{project_id}:{TOPIC_NAME}"
        self.cert_url = CERT_URL.format(region=region)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"smn.{region}.otc.t-systems.com")])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .sign(self._key, hashes.SHA256())
        )

    def fetch(self, url: str) -> x509.Certificate:
        """The verifier's certificate fetcher: this topic's certificate, in process."""
        del url
        return self.certificate

    def notification(self, message: dict[str, Any], at: datetime, topic_urn: str | None = None) -> str:
        """The raw body SMN POSTs for ``message`` published at ``at`` (to this run's topic unless
        ``topic_urn`` names another), signed."""
        fields = {"type": "Notification", "topic_urn": topic_urn or self.topic_urn}
        return self._signed({**fields, "message": json.dumps(message)}, at)

    def confirmation(self, topic_urn: str, subscribe_url: str, at: datetime) -> str:
        """The raw body of the SubscriptionConfirmation SMN POSTs to a new HTTP(S) subscription, signed
        (the message text as in SMN's user guide, "HTTP/HTTPS Message Format")."""
        text = (
            f"You are invited to subscribe to topic: {topic_urn}. To confirm this subscription, please "
            "visit the subscribe_url included in this message. "
            "The subscribe_url is valid only within 48 hours."
        )
        body = {"type": "SubscriptionConfirmation", "topic_urn": topic_urn, "message": text}
        return self._signed({**body, "subscribe_url": subscribe_url}, at)

    def _signed(self, fields: dict[str, Any], at: datetime) -> str:
        body: dict[str, Any] = {
            **fields,
            "message_id": uuid.uuid4().hex,
            "timestamp": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "signature_version": "v1",
            "signing_cert_url": self.cert_url,
        }
        signed = string_to_sign(parse_smn_message(body)).encode()
        signature = self._key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        return json.dumps({**body, "signature": base64.b64encode(signature).decode()})
