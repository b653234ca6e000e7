"""OBS, path-style (``/{bucket}/{key}``), and IAM's securitytokens API: what checking and retiring an
export needs.

- ``HEAD /{bucket}/{key}``: 200 with Content-Length, Last-Modified (RFC 1123), ETag; 404 without body.
- ``HEAD /{bucket}``: 200 with ``x-obs-storage-class`` and ``x-obs-bucket-location`` (OBS's "Obtaining
  Bucket Metadata"); ``GET /{bucket}?location`` and ``GET /{bucket}?storageClass``: the XML ``Location``
  and ``StorageClass`` answers.
- ``GET /{bucket}?prefix=&marker=&max-keys=``: the XML ``ListBucketResult``, keys in UTF-8 order,
  at most 1000 a page, ``IsTruncated`` and ``NextMarker``.
- ``DELETE /{bucket}/{key}``: 204, also for an object that is not there.
- ``GET /{bucket}?notification`` and ``PUT /{bucket}?notification``: the bucket's event notification
  configuration (``obs_notification``).

Every OBS request must carry a V2 header signature (``Authorization: OBS <AK>:<signature>``) by
temporary credentials this emulator issued, with their ``x-obs-security-token``; the signature is
computed here from the request as received. Refusals are OBS's XML ``<Error>`` with 403
``InvalidAccessKeyId``, ``AccessDenied`` (expired credentials, wrong security token, an action the
credentials' policy does not allow) or ``SignatureDoesNotMatch``. The emulated clock and the
client's clock differ, so the request time is not checked against the 15-minute window.

Bucket names are 3-63 characters, so no IMS or IAM path (``/v1/...``, ``/v3/...``) is taken for one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

from localdev.emulator.clock import iso_millis
from localdev.emulator.model import Bucket, StoredObject
from localdev.emulator.obs_notification import get_notification, put_notification
from localdev.emulator.obs_state import ObsFailure, ObsRoute, TemporaryCredential
from localdev.emulator.replies import Reply, keystone_error, obs_error
from localdev.emulator.request import Request
from localdev.emulator.securitytokens import PATH as SECURITY_TOKENS_PATH
from localdev.emulator.securitytokens import issue_temporary_credentials
from localdev.emulator.state import EmulatorState

XML_NAMESPACE = "http://obs.otc.t-systems.com/doc/2016-01-01/"
MAX_KEYS = 1000
_BUCKET = r"(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])"
_OBJECT_PATH = re.compile(rf"/{_BUCKET}/(?P<key>.+)")
_BUCKET_PATH = re.compile(rf"/{_BUCKET}")
# The sub-resources a request here may carry; they are signed, the listing parameters are not.
_SIGNED_SUBRESOURCES = (
    "acl",
    "location",
    "notification",
    "storageClass",
    "uploadId",
    "uploads",
    "versionId",
    "x-obs-security-token",
)
ACTIONS = {
    ObsRoute.HEAD: "obs:object:GetObject",
    ObsRoute.HEAD_BUCKET: "obs:bucket:HeadBucket",
    ObsRoute.BUCKET_LOCATION: "obs:bucket:GetBucketLocation",
    ObsRoute.BUCKET_STORAGE_CLASS: "obs:bucket:GetBucketStoragePolicy",
    ObsRoute.LIST: "obs:bucket:ListBucket",
    ObsRoute.DELETE: "obs:object:DeleteObject",
    ObsRoute.GET_NOTIFICATION: "obs:bucket:GetBucketNotification",
    ObsRoute.PUT_NOTIFICATION: "obs:bucket:PutBucketNotification",
}
FAILURE_STATUS = {
    ObsFailure.INTERNAL_ERROR: (500, "InternalError", "We encountered an internal error. Please try again."),
    ObsFailure.SERVICE_UNAVAILABLE: (503, "ServiceUnavailable", "The service is unavailable. Try again."),
    ObsFailure.SLOW_DOWN: (503, "SlowDown", "Please reduce your request rate."),
}


def _route(request: Request) -> tuple[ObsRoute, str, str | None] | None:
    """The route, the bucket and the key as sent (percent-encoded), or None if this is not ours."""
    if request.method == "POST" and request.path == SECURITY_TOKENS_PATH:
        return ObsRoute.SECURITY_TOKENS, "", None
    if request.method in ("HEAD", "DELETE"):
        match = _OBJECT_PATH.fullmatch(request.path)
        if match:
            route = ObsRoute.HEAD if request.method == "HEAD" else ObsRoute.DELETE
            return route, match["bucket"], match["key"]
    bucket = _BUCKET_PATH.fullmatch(request.path)
    if bucket and request.method == "HEAD":
        return ObsRoute.HEAD_BUCKET, bucket["bucket"], None
    if bucket and "notification" in request.query and request.method in ("GET", "PUT"):
        route = ObsRoute.GET_NOTIFICATION if request.method == "GET" else ObsRoute.PUT_NOTIFICATION
        return route, bucket["bucket"], None
    if bucket and request.method == "GET":
        if "location" in request.query:
            return ObsRoute.BUCKET_LOCATION, bucket["bucket"], None
        if "storageClass" in request.query:
            return ObsRoute.BUCKET_STORAGE_CLASS, bucket["bucket"], None
        return ObsRoute.LIST, bucket["bucket"], None
    return None


def handles(request: Request) -> bool:
    return _route(request) is not None


def handle(state: EmulatorState, request: Request) -> Reply:
    found = _route(request)
    if found is None:
        raise keystone_error(404, f"No emulated API at {request.path}.")
    route, bucket_name, raw_key = found
    state.obs.count(route)
    failure = state.obs.take_failure(route)
    if failure is not None:
        status, code, message = FAILURE_STATUS[failure]
        if route is ObsRoute.SECURITY_TOKENS:
            raise keystone_error(status, f"{message} (injected fault)")
        raise obs_error(status, code, message)
    if route is ObsRoute.SECURITY_TOKENS:
        return issue_temporary_credentials(state, request)
    credential = _authenticate(state, request, bucket_name, raw_key)
    key = unquote(raw_key) if raw_key else None
    resource = f"obs:*:*:object:{bucket_name}/{key}" if key else f"obs:*:*:bucket:{bucket_name}"
    if not credential.allows(ACTIONS[route], resource) or ACTIONS[route] in state.obs.denied_actions:
        raise obs_error(403, "AccessDenied", "Access Denied")
    state.settle()  # exports that have finished by now have written their objects
    with state.lock:
        bucket = state.buckets.get(bucket_name)
        if bucket is None:
            raise obs_error(
                404, "NoSuchBucket", "The specified bucket does not exist", BucketName=bucket_name
            )
        if route is ObsRoute.LIST:
            return _listing(bucket, request)
        if route is ObsRoute.HEAD_BUCKET:
            return _head_bucket(bucket, headers=state.obs.bucket_metadata_headers)
        if route is ObsRoute.BUCKET_LOCATION:
            return _xml_value("Location", bucket.region)
        if route is ObsRoute.BUCKET_STORAGE_CLASS:
            return _xml_value("StorageClass", bucket.storage_class)
        if route is ObsRoute.GET_NOTIFICATION:
            return get_notification(bucket)
        if route is ObsRoute.PUT_NOTIFICATION:
            return put_notification(state, bucket, request.body)
        if route is ObsRoute.HEAD:
            return _head(bucket, key or "")
        bucket.objects.pop(key or "", None)
        return Reply(204, None, {"Content-Type": "application/xml"})


# --- authentication -----------------------------------------------------------------------------


def _string_to_sign(request: Request, bucket: str, raw_key: str | None) -> str:
    headers = request.headers  # names in lower case
    obs_headers = sorted(
        (name, value.strip()) for name, value in headers.items() if name.startswith("x-obs-")
    )
    date = "" if "x-obs-date" in headers else headers.get("date", "")
    resource = f"/{bucket}/{raw_key or ''}"
    signed = [
        name if not values or values[0] == "" else f"{name}={values[0]}"
        for name, values in sorted(request.query.items())
        if name in _SIGNED_SUBRESOURCES
    ]
    if signed:
        resource += "?" + "&".join(signed)
    lines = [request.method, headers.get("content-md5", ""), headers.get("content-type", ""), date]
    return "\n".join(lines) + "\n" + "".join(f"{name}:{value}\n" for name, value in obs_headers) + resource


def _authenticate(
    state: EmulatorState, request: Request, bucket: str, raw_key: str | None
) -> TemporaryCredential:
    scheme, _, credentials = (request.header("Authorization") or "").partition(" ")
    access_key_id, _, provided = credentials.rpartition(":")
    if scheme not in ("OBS", "AWS") or not access_key_id:
        raise obs_error(403, "AccessDenied", "Access Denied")
    credential = state.obs.credential(access_key_id)
    if credential is None:
        raise obs_error(
            403, "InvalidAccessKeyId", "The access key Id you provided does not exist in our records."
        )
    if state.now() >= credential.expires_at:
        raise obs_error(403, "AccessDenied", "The temporary credentials have expired.")
    token = request.header("x-obs-security-token") or ""
    if not hmac.compare_digest(token.encode(), credential.security_token.encode()):
        raise obs_error(403, "AccessDenied", "The security token does not belong to the access key.")
    text = _string_to_sign(request, bucket, raw_key)
    expected = base64.b64encode(hmac.new(credential.secret.encode(), text.encode(), hashlib.sha1).digest())
    if not hmac.compare_digest(expected, provided.encode()):
        # Like OBS, the answer shows the string it signed (which holds the security token header).
        raise obs_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            StringToSign=text,
        )
    return credential


# --- answers ------------------------------------------------------------------------------------


def _etag(bucket: Bucket, key: str, stored: StoredObject) -> str:
    identity = f"{bucket.name}/{key}/{stored.size_bytes}/{stored.written_at}/{stored.job_id}"
    return '"' + hashlib.md5(identity.encode(), usedforsecurity=False).hexdigest() + '"'


def _head(bucket: Bucket, key: str) -> Reply:
    stored = bucket.objects.get(key)
    if stored is None:
        return Reply(404, None, {"Content-Type": "application/xml"})
    return Reply(
        200,
        None,
        {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(stored.size_bytes),
            "Last-Modified": formatdate(stored.written_at, usegmt=True),
            "ETag": _etag(bucket, key, stored),
        },
    )


def _head_bucket(bucket: Bucket, *, headers: bool) -> Reply:
    metadata = {"x-obs-storage-class": bucket.storage_class, "x-obs-bucket-location": bucket.region}
    return Reply(200, None, {"Content-Type": "application/xml", **(metadata if headers else {})})


def _xml_value(element: str, text: str) -> Reply:
    root = ElementTree.Element(element, xmlns=XML_NAMESPACE)
    root.text = text
    body = b'<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(root)
    return Reply(200, headers={"Content-Type": "application/xml"}, raw=body)


def _single(request: Request, name: str) -> str:
    values = request.query.get(name) or [""]
    return values[0]


def _max_keys(request: Request) -> int:
    text = _single(request, "max-keys") or str(MAX_KEYS)
    try:
        value = int(text)
    except ValueError:
        raise obs_error(400, "InvalidArgument", "max-keys must be an integer.") from None
    if value < 0:
        raise obs_error(400, "InvalidArgument", "max-keys must not be negative.")
    return min(value, MAX_KEYS)


def _listing(bucket: Bucket, request: Request) -> Reply:
    prefix, marker, max_keys = _single(request, "prefix"), _single(request, "marker"), _max_keys(request)
    keys = sorted(
        (key for key in bucket.objects if key.startswith(prefix) and key > marker),
        key=lambda key: key.encode(),
    )
    page, truncated = keys[:max_keys], len(keys) > max_keys
    root = ElementTree.Element("ListBucketResult", xmlns=XML_NAMESPACE)
    fields: dict[str, Any] = {"Name": bucket.name, "Prefix": prefix, "Marker": marker}
    if truncated and page:
        fields["NextMarker"] = page[-1]
    fields.update({"MaxKeys": str(max_keys), "IsTruncated": "true" if truncated else "false"})
    for name, text in fields.items():
        ElementTree.SubElement(root, name).text = text
    for key in page:
        stored = bucket.objects[key]
        contents = ElementTree.SubElement(root, "Contents")
        for name, text in (
            ("Key", key),
            ("LastModified", iso_millis(stored.written_at)),
            ("ETag", _etag(bucket, key, stored)),
            ("Size", str(stored.size_bytes)),
            ("StorageClass", "STANDARD"),
        ):
            ElementTree.SubElement(contents, name).text = text
    body = b'<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(root)
    return Reply(200, headers={"Content-Type": "application/xml"}, raw=body)
