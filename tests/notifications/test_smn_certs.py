"""Fetching SMN signing certificates: allow-list before the network, HTTPS only, size cap, cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses

from ims_export.errors import (
    SignatureVerificationError,
    TransientError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ims_export.smn.certs import CertUrlPolicy, HttpsCertificateFetcher
from ims_export.smn.messages import parse_smn_message
from ims_export.smn.verify import SmnVerifier, new_smn_verifier
from tests.notifications.smn_signing import CERT_URL, NOW, TOPIC_URN, SmnSigner, notification_body

OTHER_CERT_URL = "https://smn.eu-de.otc.t-systems.com/smn/SMN_eu-de_ffff.pem"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_fetches_and_parses_the_certificate_over_verified_https(
    http: responses.RequestsMock, signer: SmnSigner
) -> None:
    http.get(CERT_URL, body=signer.pem)
    certificate = HttpsCertificateFetcher(requests.Session()).fetch(CERT_URL)
    assert certificate == signer.certificate
    (call,) = http.calls
    assert call.request.req_kwargs["verify"] not in (False, None, "")  # type: ignore[attr-defined]
    assert call.request.req_kwargs["timeout"] == (3.05, 5.0)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (CERT_URL.replace("https:", "http:"), "CertUrlNotHttps"),
        ("ftp://smn.eu-de.otc.t-systems.com/smn/SMN_eu-de_ab.pem", "CertUrlNotHttps"),
        ("https://evil.example/smn/SMN_eu-de_ab.pem", "CertUrlNotAllowed"),
        ("https://smn.eu-de.otc.t-systems.com/smn/../etc/SMN_eu-de_ab.pem", "CertUrlNotAllowed"),
        (CERT_URL + "#frag", "CertUrlNotAllowed"),
    ],
)
def test_refuses_urls_off_the_allow_list_before_any_request(
    http: responses.RequestsMock, url: str, code: str, signer: SmnSigner
) -> None:
    http.get(url.replace("#frag", ""), body=signer.pem)  # would be served, must not be asked for
    with pytest.raises(SignatureVerificationError) as caught:
        HttpsCertificateFetcher(requests.Session()).fetch(url)
    assert caught.value.code == code
    assert len(http.calls) == 0


def test_a_message_naming_a_foreign_certificate_causes_no_request(
    http: responses.RequestsMock, signer: SmnSigner
) -> None:
    evil = "https://attacker.example/smn/SMN_eu-de_ab.pem"
    http.get(evil, body=signer.pem)
    verifier = SmnVerifier(
        HttpsCertificateFetcher(requests.Session()), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW
    )
    message = parse_smn_message(signer.sign({**notification_body(), "signing_cert_url": evil}))
    with pytest.raises(SignatureVerificationError, match="not allowed"):
        verifier.verify(message)
    assert len(http.calls) == 0


def test_the_fetcher_checks_its_own_policy_too(http: responses.RequestsMock, signer: SmnSigner) -> None:
    own = "https://certs.example.test/SMN_eu-de_ab.pem"
    http.get(own, body=signer.pem)
    policy = CertUrlPolicy(r"https://certs\.example\.test/SMN_[a-z0-9-]+_[0-9a-f]+\.pem")
    assert HttpsCertificateFetcher(requests.Session(), url_policy=policy).fetch(own) == signer.certificate
    with pytest.raises(SignatureVerificationError):
        HttpsCertificateFetcher(requests.Session(), url_policy=policy).fetch(CERT_URL)
    assert [call.request.url for call in http.calls] == [own]


def test_the_second_verification_uses_the_cached_certificate(
    http: responses.RequestsMock, signer: SmnSigner
) -> None:
    http.get(CERT_URL, body=signer.pem)
    verifier = SmnVerifier(
        HttpsCertificateFetcher(requests.Session()), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW
    )
    for subject in ("first", "second"):
        message = parse_smn_message(signer.sign(notification_body(subject=subject)))
        verifier.verify(message)
        assert message.is_verified
    assert len(http.calls) == 1


def test_cached_certificates_expire(http: responses.RequestsMock, signer: SmnSigner) -> None:
    http.get(CERT_URL, body=signer.pem)
    clock = FakeMonotonic()
    fetcher = HttpsCertificateFetcher(requests.Session(), cache_ttl_seconds=60, monotonic=clock)
    fetcher.fetch(CERT_URL)
    clock.now += 59
    fetcher.fetch(CERT_URL)
    assert len(http.calls) == 1
    clock.now += 2
    fetcher.fetch(CERT_URL)
    assert len(http.calls) == 2


def test_the_cache_is_bounded(
    http: responses.RequestsMock, signer: SmnSigner, other_signer: SmnSigner
) -> None:
    http.get(CERT_URL, body=signer.pem)
    http.get(OTHER_CERT_URL, body=other_signer.pem)
    fetcher = HttpsCertificateFetcher(requests.Session(), cache_size=1)
    assert fetcher.fetch(CERT_URL) == signer.certificate
    assert fetcher.fetch(OTHER_CERT_URL) == other_signer.certificate  # evicts CERT_URL
    assert fetcher.fetch(OTHER_CERT_URL) == other_signer.certificate
    assert fetcher.fetch(CERT_URL) == signer.certificate
    assert [call.request.url for call in http.calls] == [CERT_URL, OTHER_CERT_URL, CERT_URL]


def test_failures_are_not_cached(http: responses.RequestsMock, signer: SmnSigner) -> None:
    http.get(CERT_URL, status=503)
    http.get(CERT_URL, body=signer.pem)
    fetcher = HttpsCertificateFetcher(requests.Session())
    with pytest.raises(UpstreamUnavailableError) as caught:
        fetcher.fetch(CERT_URL)
    assert isinstance(caught.value, TransientError)
    assert fetcher.fetch(CERT_URL) == signer.certificate


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "streamed"])
def test_an_oversized_certificate_is_refused(http: responses.RequestsMock, declare_length: bool) -> None:
    http.add(
        responses.Response("GET", CERT_URL, body=b"A" * 70_000, auto_calculate_content_length=declare_length)
    )
    with pytest.raises(SignatureVerificationError) as caught:
        HttpsCertificateFetcher(requests.Session()).fetch(CERT_URL)
    assert caught.value.code == "CertificateTooLarge"


def test_the_size_cap_is_configurable(http: responses.RequestsMock, signer: SmnSigner) -> None:
    http.get(CERT_URL, body=signer.pem)
    with pytest.raises(SignatureVerificationError, match="exceeds 512 bytes"):
        HttpsCertificateFetcher(requests.Session(), max_bytes=512).fetch(CERT_URL)


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        ({"status": 404}, SignatureVerificationError, "CertificateUnavailable"),
        (
            {"status": 302, "headers": {"Location": "https://evil.example/c.pem"}},
            SignatureVerificationError,
            "CertificateUnavailable",
        ),
        ({"body": b"-----BEGIN NONSENSE-----\n"}, SignatureVerificationError, "CertificateInvalid"),
        ({"status": 429}, UpstreamUnavailableError, "CertificateFetchFailed"),
        ({"body": requests.ConnectionError("reset")}, UpstreamTimeoutError, "CertificateFetchFailed"),
        ({"body": requests.ReadTimeout("slow")}, UpstreamTimeoutError, "CertificateFetchFailed"),
        (
            {"body": requests.exceptions.SSLError("bad cert")},
            SignatureVerificationError,
            "CertificateHostUntrusted",
        ),
    ],
    ids=["404", "redirect", "not-pem", "429", "dropped", "timeout", "tls"],
)
def test_fetch_failures_have_named_errors(
    http: responses.RequestsMock, response: dict[str, object], error: type[Exception], code: str
) -> None:
    http.get(CERT_URL, **response)
    with pytest.raises(error) as caught:
        HttpsCertificateFetcher(requests.Session()).fetch(CERT_URL)
    assert getattr(caught.value, "code", None) == code
    assert [call.request.url for call in http.calls] == [CERT_URL]  # redirects are not followed


def test_new_smn_verifier_holds_fetcher_and_verifier_to_one_pattern(
    http: responses.RequestsMock, signer: SmnSigner
) -> None:
    own = "https://certs.example.test/SMN_eu-de_ab.pem"
    http.get(own, body=signer.pem)
    verifier = new_smn_verifier(
        requests.Session(),
        allowed_cert_url_pattern=r"https://certs\.example\.test/SMN_[a-z0-9-]+_[0-9a-f]+\.pem",
        allowed_topic_urns={TOPIC_URN},
    )
    verifier.clock = lambda: NOW
    message = parse_smn_message(signer.sign({**notification_body(), "signing_cert_url": own}))
    verifier.verify(message)
    assert message.is_verified
    with pytest.raises(SignatureVerificationError, match="not allowed"):
        verifier.verify(parse_smn_message(signer.sign(notification_body())))
    assert [call.request.url for call in http.calls] == [own]


def test_new_smn_verifier_defaults_to_the_smn_hosts(http: responses.RequestsMock, signer: SmnSigner) -> None:
    http.get(CERT_URL, body=signer.pem)
    verifier = new_smn_verifier(requests.Session(), allowed_topic_urns={"urn:smn:eu-de:p:other"})
    verifier.clock = lambda: NOW
    with pytest.raises(SignatureVerificationError) as caught:
        verifier.verify(parse_smn_message(signer.sign(notification_body())))
    assert caught.value.code == "TopicNotAllowed"
    assert len(http.calls) == 0
