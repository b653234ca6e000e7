"""Fixtures of the SMN tests: throwaway signing keys, a recording certificate fetcher, a verifier."""

from __future__ import annotations

import pytest
from cryptography import x509

from ims_export.smn.verify import SmnVerifier
from tests.notifications.smn_signing import NOW, TOPIC_URN, SmnSigner


class RecordingFetcher:
    """A certificate fetcher that serves one PEM and records every URL it was asked for."""

    def __init__(self, pem: bytes) -> None:
        self.certificate = x509.load_pem_x509_certificate(pem)
        self.urls: list[str] = []

    def fetch(self, url: str) -> x509.Certificate:
        self.urls.append(url)
        return self.certificate


@pytest.fixture(scope="session")
def signer() -> SmnSigner:
    return SmnSigner.generate()


@pytest.fixture(scope="session")
def other_signer() -> SmnSigner:
    return SmnSigner.generate()


@pytest.fixture
def fetcher(signer: SmnSigner) -> RecordingFetcher:
    return RecordingFetcher(signer.pem)


@pytest.fixture
def verifier(fetcher: RecordingFetcher) -> SmnVerifier:
    return SmnVerifier(fetcher, allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW)
