"""parse_model names the bad fields and never echoes the values."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, SecretStr

from ims_export.domain.export_request import ExportRequest
from ims_export.errors import InvalidRequestError
from ims_export.parsing import MAX_LOCATION_PART_CHARS, MAX_REPORTED_ERRORS, parse_model

SECRET = "hunter2-do-not-echo"


class Credentials(BaseModel):
    user: str
    password: SecretStr
    port: int


class Many(BaseModel):
    a: int
    b: int
    c: int
    d: int
    e: int
    f: int
    g: int


def test_a_valid_model_is_returned() -> None:
    parsed = parse_model(Credentials, {"user": "u", "password": SECRET, "port": "443"})
    assert parsed.port == 443
    assert SECRET not in repr(parsed)


def test_errors_name_the_fields_but_not_the_values() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_model(Credentials, {"user": ["x", SECRET], "password": 42, "port": SECRET})
    message = str(raised.value)
    assert raised.value.code == "ValidationError"
    assert "invalid Credentials" in message
    for field in ("user", "password", "port"):
        assert field in message
    assert SECRET not in message
    assert SECRET not in repr(raised.value)
    assert raised.value.__cause__ is None


def test_values_are_not_echoed_for_export_requests_either() -> None:
    data = {"image_id": SECRET, "bucket_url": "b", "file_format": SECRET, "is_quick_export": SECRET}
    with pytest.raises(InvalidRequestError) as raised:
        parse_model(ExportRequest, data)
    assert SECRET not in str(raised.value)
    assert "image_id" in str(raised.value)


def test_a_non_mapping_is_reported_at_the_root() -> None:
    with pytest.raises(InvalidRequestError, match=r"\(root\)"):
        parse_model(Credentials, SECRET)


def test_only_the_first_errors_are_listed() -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse_model(Many, {})
    message = str(raised.value)
    assert message.count("Field required") == MAX_REPORTED_ERRORS
    assert message.endswith("and 2 more")


class Strict(BaseModel):
    model_config = {"extra": "forbid"}

    user: str


def test_an_unknown_key_is_named_cut_short_and_on_one_line() -> None:
    key = "k" * 120_000 + "\n\x1b[31m"
    with pytest.raises(InvalidRequestError) as raised:
        parse_model(Strict, {"user": "u", key: 1})

    message = str(raised.value)
    assert len(message) < 300
    assert "\n" not in message
    assert "\x1b" not in message
    assert "k" * (MAX_LOCATION_PART_CHARS - 1) + "\u2026" in message
