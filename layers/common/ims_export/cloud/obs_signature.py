"""The OBS header signature (``Authorization: OBS <AK>:<signature>``), as the OBS API reference defines it
("Authentication of Signature in a Header", obs_04_0010).

    StringToSign = HTTP-Verb + "\\n" + Content-MD5 + "\\n" + Content-Type + "\\n" + Date + "\\n"
                   + CanonicalizedHeaders + CanonicalizedResource
    Signature    = Base64(HMAC-SHA1(SK, UTF-8(StringToSign)))

- CanonicalizedHeaders: every ``x-obs-*`` header, name in lower case, value trimmed, repeated names
  joined with ``,``, sorted by name, one ``name:value\\n`` line each. ``x-obs-security-token`` is one
  of them when temporary credentials sign.
- Date is empty when ``x-obs-date`` is sent.
- CanonicalizedResource: ``/bucket/object`` (``/bucket/`` for the bucket itself) in both addressing
  styles, followed by the sub-resources of the query (``?acl``, ``?uploadId=...``), sorted and joined
  with ``&``. Listing parameters (``prefix``, ``marker``, ``max-keys``) are NOT sub-resources and are
  not signed.

This is the S3 V2 scheme with ``x-obs-`` instead of ``x-amz-`` headers, so S3's published V2
examples are known answers for requests without vendor headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote

OBS_HEADER_PREFIX = "x-obs-"
DATE_OVERRIDE_HEADER = "x-obs-date"
SECURITY_TOKEN_HEADER = "x-obs-security-token"  # noqa: S105 (a header name, not a secret)
# The sub-resources the OBS API reference lists; nothing else of the query is signed.
SUB_RESOURCES = frozenset(
    {
        "CDNNotifyConfiguration",
        "acl",
        "append",
        "attname",
        "cors",
        "customdomain",
        "delete",
        "deletebucket",
        "encryption",
        "length",
        "lifecycle",
        "location",
        "logging",
        "metadata",
        "mirrorBackToSource",
        "modify",
        "name",
        "notification",
        "obscompresspolicy",
        "partNumber",
        "policy",
        "position",
        "quota",
        "rename",
        "replication",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "storageClass",
        "storagePolicy",
        "storageinfo",
        "tagging",
        "torrent",
        "truncate",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
        "x-obs-security-token",
    }
)


def quote_key(key: str) -> str:
    """An object key as it goes into the URL path and the canonical resource ('/' kept)."""
    return quote(key, safe="/~")


def canonical_resource(
    bucket: str | None, key: str | None = None, query: Mapping[str, str | None] = {}
) -> str:
    """``/bucket/key`` plus the signed sub-resources of ``query`` (a value of None: a bare name)."""
    resource = "/"
    if bucket:
        resource += f"{bucket}/"
        if key:
            resource += quote_key(key)
    signed = sorted((name, value) for name, value in query.items() if name in SUB_RESOURCES)
    if signed:
        resource += "?" + "&".join(
            name if value in (None, "") else f"{name}={value}" for name, value in signed
        )
    return resource


def canonical_headers(headers: Iterable[tuple[str, str]]) -> str:
    """The ``x-obs-*`` lines of the string to sign, from (name, value) pairs (names may repeat)."""
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        lowered = name.strip().lower()
        if lowered.startswith(OBS_HEADER_PREFIX):
            merged.setdefault(lowered, []).append(value.strip())
    return "".join(f"{name}:{','.join(merged[name])}\n" for name in sorted(merged))


def string_to_sign(method: str, headers: Mapping[str, str], resource: str) -> str:
    by_name = {name.lower(): value for name, value in headers.items()}
    date = "" if DATE_OVERRIDE_HEADER in by_name else by_name.get("date", "")
    return (
        f"{method.upper()}\n"
        f"{by_name.get('content-md5', '')}\n"
        f"{by_name.get('content-type', '')}\n"
        f"{date}\n"
        f"{canonical_headers(headers.items())}{resource}"
    )


def signature(secret_access_key: str, text: str) -> str:
    digest = hmac.new(secret_access_key.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def authorization(access_key_id: str, secret_access_key: str, text: str) -> str:
    """The ``Authorization`` header value for a string to sign."""
    return f"OBS {access_key_id}:{signature(secret_access_key, text)}"
