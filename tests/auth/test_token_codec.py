from __future__ import annotations

import base64
import json
import zlib
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from ims_export.auth.codec import (
    ADVANCED_TIER_LIMIT,
    STANDARD_TIER_LIMIT,
    decode_record,
    encode_record,
    tier_for_length,
)
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import TokenCacheCorruptError, TokenTooLargeError
from tests.auth.fakes import IMS_URL, NOW, PROJECT_ID, pki_token, random_token


def issued(value: str, *, ims_endpoint: str | None = IMS_URL) -> IssuedToken:
    return IssuedToken(
        value=SecretStr(value),
        expires_at=NOW + timedelta(hours=24),
        project_id=PROJECT_ID,
        ims_endpoint=ims_endpoint,
    )


def scheme_of(value: str) -> str:
    return str(json.loads(value)["scheme"])


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        (base64.b64encode(b"\x30\x82\x01\xff" + b"x" * 300 + b"\xfb\xff").decode(), "b64:+/:pad"),
        (base64.b64encode(b"\xfb\xff" * 200).decode().replace("/", "-"), "b64:+-:pad"),
        (base64.urlsafe_b64encode(b"\xfb\xff" * 200 + b"!").decode(), "b64:-_:pad"),
        (base64.b64encode(b"abcd" * 100 + b"e").decode().rstrip("="), "b64:+/:nopad"),
        ("MIIB not base64 at all: \u00e9\u20ac", "utf8"),
        ("QUJD\n", "utf8"),  # decodable, but not exactly: kept as text
        ("", "b64:+/:pad"),  # the base64 of no bytes
    ],
)
def test_round_trip_is_exact_for_every_token_shape(text: str, scheme: str) -> None:
    token = issued(text)
    encoded = encode_record(token)
    assert scheme_of(encoded.value) == scheme
    assert decode_record(encoded.value) == token


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda raw: base64.b64encode(raw).decode()))
def test_any_token_round_trips(text: str) -> None:
    token = issued(text, ims_endpoint=None)
    assert decode_record(encode_record(token).value) == token


def test_record_holds_metadata_and_no_plain_token() -> None:
    text = pki_token(min_length=6000)
    encoded = encode_record(issued(text))
    record = json.loads(encoded.value)

    assert record["version"] == 1
    assert record["project_id"] == PROJECT_ID
    assert record["ims_endpoint"] == IMS_URL
    assert record["expires_at"].startswith("2025-03-02T12:00:00")
    assert text[:200] not in encoded.value
    # SSM refuses values containing {{ or }}.
    assert "{{" not in encoded.value and "}}" not in encoded.value
    assert text not in repr(encoded)


def test_realistic_16_kb_pki_token_fits_an_ssm_parameter() -> None:
    text = pki_token(min_length=16_000)
    assert len(text) >= 16_000
    assert text.startswith("MII")

    encoded = encode_record(issued(text))
    assert len(encoded.value) <= ADVANCED_TIER_LIMIT
    assert decode_record(encoded.value).value.get_secret_value() == text


def test_small_token_goes_to_the_standard_tier() -> None:
    encoded = encode_record(issued(pki_token(min_length=5_000)))
    assert encoded.tier == "Standard"
    assert len(encoded.value) <= STANDARD_TIER_LIMIT


def test_incompressible_token_too_large_for_any_tier() -> None:
    with pytest.raises(TokenTooLargeError) as raised:
        encode_record(issued(random_token(12_000)))
    assert "8192" in str(raised.value)


@pytest.mark.parametrize(
    ("length", "tier"),
    [
        (1, "Standard"),
        (STANDARD_TIER_LIMIT, "Standard"),
        (STANDARD_TIER_LIMIT + 1, "Advanced"),
        (8192, "Advanced"),
    ],
)
def test_tier_boundaries(length: int, tier: str) -> None:
    assert tier_for_length(length) == tier


def test_tier_beyond_the_advanced_limit() -> None:
    with pytest.raises(TokenTooLargeError):
        tier_for_length(ADVANCED_TIER_LIMIT + 1)


def corrupt_variants() -> list[str]:
    good = json.loads(encode_record(issued("dG9rZW4=")).value)
    zipped_bytes = base64.b64encode(zlib.compress(b"\xff\xfe")).decode()
    return [
        "",
        "not json",
        "[]",
        json.dumps({**good, "version": 2}),
        json.dumps({**good, "token": "%%%"}),
        json.dumps({**good, "token": base64.b64encode(b"not zlib").decode()}),
        json.dumps({**good, "scheme": "rot13"}),
        json.dumps({**good, "scheme": "utf8", "token": zipped_bytes}),
        json.dumps({**good, "expires_at": "2025-03-02T12:00:00"}),
        json.dumps({key: value for key, value in good.items() if key != "project_id"}),
    ]


@pytest.mark.parametrize("value", corrupt_variants())
def test_corrupt_records_raise_a_named_error_without_the_value(value: str) -> None:
    with pytest.raises(TokenCacheCorruptError) as raised:
        decode_record(value)
    if len(value) > 8:
        assert value not in str(raised.value)
    assert raised.value.__cause__ is None
