"""Signing certificates of SMN: which URLs may serve them, and fetching them over HTTPS with a cache.

SMN names the certificate of each message in its unsigned ``signing_cert_url`` field, so the URL is
attacker-controlled until the signature is checked. It is therefore matched against an allow-list
before any network call, fetched over verified HTTPS only, without redirects and with a size cap.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import requests

from ims_export.cloud.http import new_session, timeouts
from ims_export.errors import (
    SignatureVerificationError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)

if TYPE_CHECKING:
    from cryptography import x509

# Cloud domains that run SMN, as they appear in certificate and console host names.
SMN_CLOUD_DOMAINS = ("otc.t-systems.com", "sc.otc.t-systems.com", "myhuaweicloud.com", "myhuaweicloud.eu")

# https://smn.<region>.<cloud domain>/smn/SMN_<region>_<hex>.pem, the same region twice.
DEFAULT_CERT_URL_PATTERN = (
    r"https://smn\.(?P<region>[a-z0-9]+(?:-[a-z0-9]+)*)"
    r"\.(?P<domain>" + "|".join(re.escape(domain) for domain in SMN_CLOUD_DOMAINS) + r")"
    r"/smn/SMN_(?P=region)_[0-9a-fA-F]+\.pem"
)

DEFAULT_MAX_CERT_BYTES = 64 * 1024  # an SMN certificate is about 2 KiB
DEFAULT_CACHE_TTL_SECONDS = 6 * 3600.0
DEFAULT_CACHE_SIZE = 16


@dataclass(frozen=True)
class CertUrl:
    """An allowed certificate URL, with the region and cloud domain the pattern captured (if any)."""

    url: str
    region: str | None
    domain: str | None


class CertUrlPolicy:
    """Decides which ``signing_cert_url`` values may be fetched: HTTPS and a full match of a pattern."""

    def __init__(self, pattern: str | re.Pattern[str] = DEFAULT_CERT_URL_PATTERN) -> None:
        self.pattern = re.compile(pattern) if isinstance(pattern, str) else pattern

    def check(self, url: str) -> CertUrl:
        """The parsed URL, or SignatureVerificationError (CertUrlNotHttps, CertUrlNotAllowed)."""
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise SignatureVerificationError(
                "the signing certificate URL is not HTTPS", code="CertUrlNotHttps"
            )
        # Credentials, ports, queries and fragments have no place in a certificate URL, whatever the
        # configured pattern allows.
        if "@" in parts.netloc or parts.port is not None or parts.query or parts.fragment:
            raise SignatureVerificationError(
                "the signing certificate URL has extra parts", code="CertUrlNotAllowed"
            )
        match = self.pattern.fullmatch(url)
        if match is None:
            raise SignatureVerificationError(
                f"the signing certificate host {parts.hostname!r} or path is not allowed",
                code="CertUrlNotAllowed",
            )
        groups = match.groupdict()
        return CertUrl(url=url, region=groups.get("region"), domain=groups.get("domain"))


class CertificateFetcher(Protocol):
    """Supplies the certificate at an allowed URL."""

    def fetch(self, url: str) -> x509.Certificate: ...


class HttpsCertificateFetcher:
    """Fetches PEM certificates over verified HTTPS and keeps them in a small in-memory cache per URL.

    The cache lives as long as the Lambda execution environment, so warm invocations skip the download.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        url_policy: CertUrlPolicy | None = None,
        connect_timeout_seconds: float = 3.05,
        read_timeout_seconds: float = 5.0,
        max_bytes: int = DEFAULT_MAX_CERT_BYTES,
        cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session or new_session()
        self.url_policy = url_policy or CertUrlPolicy()
        self.timeout = timeouts(connect_timeout_seconds, read_timeout_seconds)
        self.max_bytes = max_bytes
        self.cache_ttl_seconds = cache_ttl_seconds
        self.cache_size = max(1, cache_size)
        self.monotonic = monotonic
        self._cache: OrderedDict[str, tuple[float, x509.Certificate]] = OrderedDict()

    def fetch(self, url: str) -> x509.Certificate:
        self.url_policy.check(url)  # before the cache and before any network call
        cached = self._cache.get(url)
        now = self.monotonic()
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(url)
            return cached[1]
        certificate = _parse_pem(self._download(url))
        self._remember(url, certificate, now)
        return certificate

    def _remember(self, url: str, certificate: x509.Certificate, now: float) -> None:
        self._cache[url] = (now + self.cache_ttl_seconds, certificate)
        self._cache.move_to_end(url)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _download(self, url: str) -> bytes:
        host = urlsplit(url).hostname
        try:
            with self.session.get(
                url, timeout=self.timeout, verify=True, allow_redirects=False, stream=True
            ) as response:
                _check_status(response.status_code, host)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise _too_large(self.max_bytes)
                body = bytearray()
                for chunk in response.iter_content(chunk_size=8192):
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        raise _too_large(self.max_bytes)
                return bytes(body)
        except requests.exceptions.SSLError:
            # A certificate host whose own TLS identity fails is not one to trust, now or on retry.
            raise SignatureVerificationError(
                f"TLS verification of {host!r} failed", code="CertificateHostUntrusted"
            ) from None
        except (requests.Timeout, requests.ConnectionError):
            raise UpstreamTimeoutError(
                f"fetching the signing certificate from {host!r} failed", code="CertificateFetchFailed"
            ) from None


def _check_status(status: int, host: str | None) -> None:
    if status >= 500 or status == 429:
        raise UpstreamUnavailableError(
            f"the signing certificate host {host!r} answered {status}",
            code="CertificateFetchFailed",
            status=status,
        )
    if status != 200:
        # Redirects included: they are not followed, since they could lead off the allowed host.
        raise SignatureVerificationError(
            f"the signing certificate host {host!r} answered {status}",
            code="CertificateUnavailable",
            status=status,
        )


def _too_large(max_bytes: int) -> SignatureVerificationError:
    return SignatureVerificationError(
        f"the signing certificate exceeds {max_bytes} bytes", code="CertificateTooLarge"
    )


def _parse_pem(data: bytes) -> x509.Certificate:
    from cryptography import x509  # noqa: PLC0415 - kept off the import of this module (cold start)

    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise SignatureVerificationError(
            "the signing certificate is not a PEM X.509 certificate", code="CertificateInvalid"
        ) from None
