"""The token cache record: a lossless, compact encoding of an IssuedToken for one SSM parameter.

Why: IAM tokens are PKI-style, base64 text of a CMS blob that wraps the token JSON (user, project,
roles and the whole endpoint catalog), 5-8 KB and more. An SSM value holds at most 4096 characters
(Standard tier) or 8192 (Advanced tier, which costs money and can never be downgraded).

Strategy:

1. Unwrap. If the token is exact base64 text (standard ``+/``, Keystone's ``+-`` or URL-safe ``-_``
   alphabet, padded or not), decode it to its bytes: base64 hides the redundancy of the JSON inside
   from the compressor. Anything else is kept as its UTF-8 bytes. The ``scheme`` field says which.
2. Compress the bytes with zlib (level 9): the catalog's repeated URLs and keys shrink several times;
   only the signature (a few hundred random bytes) and random ids do not.
3. Armor the result in standard base64. Base85 would be ~6% shorter, but its alphabet contains
   ``{`` and ``}`` and SSM refuses values that contain ``{{`` or ``}}``.
4. Verify. The record is decoded again and must give back exactly the same token, or the plain UTF-8
   scheme (always lossless) is used instead.
5. Choose the tier: Standard when the whole JSON record fits 4096 characters, Advanced when it fits
   8192, else TokenTooLargeError (and nothing is written).

A realistic 16 KB token compresses to roughly a third of its size and fits the Advanced tier.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ims_export.domain.tokens import IssuedToken
from ims_export.errors import TokenCacheCorruptError, TokenTooLargeError

RECORD_VERSION: Final = 1
STANDARD_TIER_LIMIT = 4096
ADVANCED_TIER_LIMIT = 8192
UTF8_SCHEME = "utf8"
# Characters 62 and 63 of the base64 alphabets seen in tokens: standard, Keystone PKI, URL-safe.
BASE64_ALTCHARS = ("+/", "+-", "-_")

Tier = Literal["Standard", "Advanced"]


@dataclass(frozen=True)
class EncodedRecord:
    """The parameter value to store and the cheapest tier that can hold it."""

    value: str
    tier: Tier

    def __repr__(self) -> str:  # the value holds the token
        return f"EncodedRecord(value=<{len(self.value)} characters>, tier={self.tier!r})"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    scheme: str
    token: str
    expires_at: datetime
    project_id: str
    ims_endpoint: str | None = None
    issued_at: datetime | None = None
    received_at: datetime | None = None


def tier_for_length(length: int) -> Tier:
    """The cheapest SSM tier for a value of ``length`` characters, or TokenTooLargeError."""
    if length <= STANDARD_TIER_LIMIT:
        return "Standard"
    if length <= ADVANCED_TIER_LIMIT:
        return "Advanced"
    raise TokenTooLargeError(
        f"the token record needs {length} characters; an SSM parameter holds at most {ADVANCED_TIER_LIMIT}"
    )


def _base64_scheme(text: str) -> tuple[str, bytes] | None:
    """``("b64:<altchars>:<pad|nopad>", bytes)`` if ``text`` is exactly the base64 of those bytes."""
    padded = not len(text) % 4
    candidate = text if padded else text + "=" * (-len(text) % 4)
    for altchars in BASE64_ALTCHARS:
        try:
            raw = base64.b64decode(candidate, altchars=altchars.encode(), validate=True)
        except (binascii.Error, ValueError):
            continue
        if _base64_text(raw, altchars, padded) == text:
            return f"b64:{altchars}:{'pad' if padded else 'nopad'}", raw
    return None


def _base64_text(raw: bytes, altchars: str, padded: bool) -> str:
    text = base64.b64encode(raw, altchars=altchars.encode()).decode("ascii")
    return text if padded else text.rstrip("=")


def _unwrap(token: str) -> tuple[str, bytes]:
    return _base64_scheme(token) or (UTF8_SCHEME, token.encode("utf-8"))


def _rewrap(scheme: str, raw: bytes) -> str:
    if scheme == UTF8_SCHEME:
        return raw.decode("utf-8")
    kind, altchars, padding = scheme.split(":")
    if kind != "b64" or altchars not in BASE64_ALTCHARS or padding not in ("pad", "nopad"):
        raise ValueError("unknown scheme")
    return _base64_text(raw, altchars, padding == "pad")


def _serialize(token: IssuedToken, scheme: str, raw: bytes) -> str:
    record = _Record(
        version=RECORD_VERSION,
        scheme=scheme,
        token=base64.b64encode(zlib.compress(raw, 9)).decode("ascii"),
        expires_at=token.expires_at,
        project_id=token.project_id,
        ims_endpoint=token.ims_endpoint,
        issued_at=token.issued_at,
        received_at=token.received_at,
    )
    return record.model_dump_json(exclude_none=True)


def encode_record(token: IssuedToken) -> EncodedRecord:
    """The record for ``token``, verified to decode to the same token; TokenTooLargeError if none fits."""
    text = token.value.get_secret_value()
    value = _serialize(token, *_unwrap(text))
    if decode_record(value) != token:
        # Cannot happen with the exact-round-trip check in _base64_scheme; kept as a guard.
        value = _serialize(token, UTF8_SCHEME, text.encode("utf-8"))
    return EncodedRecord(value=value, tier=tier_for_length(len(value)))


def decode_record(value: str) -> IssuedToken:
    """The token in a stored record; TokenCacheCorruptError (without the value) for anything else."""
    try:
        record = _Record.model_validate_json(value)
    except ValidationError:
        raise TokenCacheCorruptError("the token cache record is not a valid record") from None
    try:
        text = _rewrap(record.scheme, zlib.decompress(base64.b64decode(record.token, validate=True)))
    except (ValueError, zlib.error):  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise TokenCacheCorruptError("the token in the token cache record cannot be decoded") from None
    times = (record.expires_at, record.issued_at, record.received_at)
    if any(moment is not None and moment.tzinfo is None for moment in times):
        raise TokenCacheCorruptError("the token cache record has a time without a time zone")
    return IssuedToken(
        value=SecretStr(text),
        expires_at=record.expires_at,
        project_id=record.project_id,
        ims_endpoint=record.ims_endpoint,
        issued_at=record.issued_at,
        received_at=record.received_at,
    )
