"""IAM tokens: PKI-style token strings of realistic size, and the registry that validates them.

A real token is base64 of a CMS SignedData blob (DER) that wraps the token JSON, with '/' written as
'-' (hence the ``MII...`` prefix and a size of 5-8 KB). The emulator builds the same structure with
a random signature padded to the configured size, so that clients meet tokens as large as real ones.
The registry keeps only a SHA-256 digest of each token, never the token itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any

# DER encodings of the object identifiers a CMS SignedData uses.
_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_OID_DATA = bytes.fromhex("06092a864886f70d010701")
_OID_SHA256 = bytes.fromhex("0609608648016503040201")
_VERSION_1 = bytes.fromhex("020101")
_SEQUENCE, _SET, _OCTET_STRING, _EXPLICIT_0 = 0x30, 0x31, 0x04, 0xA0


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        encoded_length = bytes([length])
    else:
        length_bytes = length.to_bytes((length.bit_length() + 7) // 8, "big")
        encoded_length = bytes([0x80 | len(length_bytes)]) + length_bytes
    return bytes([tag]) + encoded_length + content


def _signed_data(payload: bytes, signature: bytes) -> bytes:
    digest_algorithm = _der(_SEQUENCE, _OID_SHA256)
    content = _der(_SEQUENCE, _OID_DATA + _der(_EXPLICIT_0, _der(_OCTET_STRING, payload)))
    signer = _der(_SEQUENCE, _VERSION_1 + digest_algorithm + _der(_OCTET_STRING, signature))
    signed = _der(_SEQUENCE, _VERSION_1 + _der(_SET, digest_algorithm) + content + _der(_SET, signer))
    return _der(_SEQUENCE, _OID_SIGNED_DATA + _der(_EXPLICIT_0, signed))


def pki_token(token_body: dict[str, Any], size: int) -> str:
    """A ``MII...`` token of ``size`` characters (rounded down to a multiple of 4), wrapping the
    JSON ``token_body``; longer only if the JSON alone does not fit."""
    payload = json.dumps(token_body, separators=(",", ":")).encode()
    target_bytes = (size // 4) * 3
    padding = 256
    blob = _signed_data(payload, secrets.token_bytes(padding))
    # DER length fields grow with the content: a few rounds settle on the exact size.
    for _ in range(5):
        if len(blob) == target_bytes:
            break
        padding = max(256, padding + target_bytes - len(blob))
        blob = _signed_data(payload, secrets.token_bytes(padding))
    return base64.b64encode(blob).decode().replace("/", "-")


def token_payload(token: str) -> dict[str, Any]:
    """The token JSON inside a token made by ``pki_token`` (for tests and debugging)."""
    blob = base64.b64decode(token.replace("-", "/"))
    marker = blob.index(b'{"token"')
    decoder = json.JSONDecoder()
    body, _ = decoder.raw_decode(blob[marker:].decode("utf-8", errors="ignore"))
    return dict(body)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class TokenRecord:
    user_id: str
    project_id: str | None  # None: a domain-scoped token, which IMS refuses
    issued_at: float
    expires_at: float
    revoked: bool = False

    def problem(self, now: float) -> str | None:
        """Why the token cannot be used at ``now``, or None if it can."""
        if self.revoked:
            return "The token has been revoked."
        if now >= self.expires_at:
            return "The token has expired."
        return None


class TokenRegistry:
    """Issued tokens by digest. Thread-safe."""

    def __init__(self) -> None:
        self._records: dict[str, TokenRecord] = {}
        self._lock = threading.Lock()

    def add(self, token: str, record: TokenRecord) -> None:
        with self._lock:
            self._records[token_digest(token)] = record

    def find(self, token: str) -> TokenRecord | None:
        with self._lock:
            return self._records.get(token_digest(token))

    def _select(self, token: str | None) -> list[TokenRecord]:
        if token is None:
            return list(self._records.values())
        record = self._records.get(token_digest(token))
        if record is None:
            raise KeyError("unknown token")
        return [record]

    def revoke(self, token: str | None = None) -> int:
        """Revoke one token, or every token if ``token`` is None; return how many."""
        with self._lock:
            records = self._select(token)
            for record in records:
                record.revoked = True
            return len(records)

    def expire(self, now: float, token: str | None = None) -> int:
        """Make one token (or all) expire at ``now``; return how many."""
        with self._lock:
            records = self._select(token)
            for record in records:
                record.expires_at = min(record.expires_at, now)
            return len(records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
