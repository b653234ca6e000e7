"""The authenticity of an SMN message: its RSA signature over the documented string to sign, checked with
the signing certificate fetched from an allowed URL, its age, and its topic; refused before any action."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import requests

from ims_export.clock import duration_text, utc_now
from ims_export.errors import SmnCertificateUnavailableError, UpstreamTimeoutError, UpstreamUnavailableError
from ims_export.smn.certs import (
    DEFAULT_CERT_URL_PATTERN,
    CertificateFetcher,
    CertUrlPolicy,
    HttpsCertificateFetcher,
)
from ims_export.smn.messages import MAX_NAMED_CHARS, SmnMessage, refusal, signed_fingerprint, string_to_sign

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes


SUPPORTED_SIGNATURE_VERSIONS = frozenset({"v1"})
ACCEPTED_HASH_NAMES = frozenset({"sha1", "sha224", "sha256", "sha384", "sha512"})


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
            raise refusal("it is unsigned", "Unsigned")
        if message.signature_version.lower() not in SUPPORTED_SIGNATURE_VERSIONS:
            raise refusal("unsupported signature_version", "UnsupportedSignatureVersion")
        cert_url = self.url_policy.check(message.signing_cert_url)
        if cert_url.region is not None and cert_url.region != message.topic_region:
            raise refusal("certificate region differs from the topic's", "CertUrlNotAllowed")
        if message.topic_urn not in self.allowed_topic_urns:
            raise refusal(
                f"its topic {message.topic_urn[:MAX_NAMED_CHARS]} is not one this endpoint accepts "
                "(SmnAllowedTopicUrns)",
                "TopicNotAllowed",
            )
        signature = _decode_signature(message.signature)
        self._check_fresh(message)
        try:
            certificate = self.cert_fetcher.fetch(message.signing_cert_url)
        except (UpstreamTimeoutError, UpstreamUnavailableError) as unavailable:
            # Not verified yet: whatever follows is a refusal at worst, never a published failure.
            raise SmnCertificateUnavailableError(
                f"SMN message not verified: {unavailable.message}", code=unavailable.code
            ) from None
        self._check_certificate_valid(certificate)
        _verify_rsa(certificate, signature, string_to_sign(message).encode())
        message._verified_fingerprint = signed_fingerprint(message)

    def _check_fresh(self, message: SmnMessage) -> None:
        issued_at = message.issued_at
        age = self.clock() - issued_at
        # Whole seconds: the parsed timestamp and its age, never the raw field.
        stamp, off_by = issued_at.isoformat(), duration_text(abs(age.total_seconds()))
        if age > self.max_age:
            limit = duration_text(self.max_age.total_seconds())
            raise refusal(f"its timestamp {stamp} is {off_by} old, more than {limit}", "StaleMessage")
        if age < -self.max_clock_skew:
            raise refusal(
                f"its timestamp {stamp} is {off_by} in the future, more than the "
                f"{duration_text(self.max_clock_skew.total_seconds())} clocks may differ",
                "StaleMessage",
            )

    def _check_certificate_valid(self, certificate: x509.Certificate) -> None:
        now = self.clock()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise refusal("the signing certificate is not valid now", "CertificateExpired")


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
        raise refusal("the signature is not base64", "SignatureNotBase64") from None
    if not decoded:
        raise refusal("the signature is empty", "SignatureNotBase64")
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
        raise refusal(f"hash {algorithm.name} is not accepted", "UnsupportedHashAlgorithm")
    return algorithm


def _verify_rsa(certificate: x509.Certificate, signature: bytes, signed: bytes) -> None:
    # cryptography is imported only when a message is verified: it is the heaviest import of the
    # package, and most start invocations never see an SMN message.
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: PLC0415

    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise refusal("the signing certificate has no RSA key", "UnsupportedCertificateKey")
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), _signature_hash(certificate))
    except InvalidSignature:
        raise refusal("the signature does not match", "SignatureMismatch") from None
