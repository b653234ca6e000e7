"""OBS client for what follows an export: HEAD the object, list a prefix, delete an old export.

Requests are signed with temporary credentials (``obs_signature``) and carry
``x-obs-security-token``. The endpoint is derived from cloud and region, addressed virtual-hosted
style (``https://{bucket}.obs.{region}.otc.t-systems.com/{key}``); an explicit endpoint
(``OBS_ENDPOINT``) is addressed path-style (``{endpoint}/{bucket}/{key}``), as local tools use.

Session rules are those of the IAM and IMS clients: timeouts on every call, no redirects, no retries
here (the caller decides), failures as typed errors: 403 ObsAccessDeniedError, NoSuchBucket
BucketNotFoundError, 429/503 throttled, 5xx unavailable, no answer UpstreamTimeoutError naming the
host. Messages mask the temporary key, secret and security token.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

import requests

from ims_export.cloud.http_errors import transient_error
from ims_export.cloud.ims_errors import TRANSPORT_ERRORS
from ims_export.cloud.obs_address import ObsAddress
from ims_export.cloud.obs_answers import (
    child_text,
    error_details,
    etag_value,
    http_time,
    iso_time,
    local_name,
    parse_xml,
    upper_or_none,
)
from ims_export.cloud.obs_signature import SECURITY_TOKEN_HEADER, authorization, canonical_resource
from ims_export.cloud.obs_signature import string_to_sign as build_string_to_sign
from ims_export.cloud.redaction import redact_message
from ims_export.cloud.temporary_credentials import TemporaryCredentials
from ims_export.domain.export_request import check_bucket_name
from ims_export.domain.objects import BucketInfo, ObjectInfo, ObjectMissing
from ims_export.errors import (
    BucketNotFoundError,
    ImsExportError,
    InvalidRequestError,
    ObsAccessDeniedError,
    ObsRequestError,
    UnexpectedResponseError,
    UpstreamTimeoutError,
)
from ims_export.settings import Cloud, Settings

logger = logging.getLogger(__name__)

MAX_KEYS = 1000  # OBS's maximum (and default) page size
MAX_KEY_LENGTH = 1024
MAX_PAGES = 10_000  # a guard against a server that never stops saying "truncated"


class ObsClient:
    """OBS with one set of temporary credentials (held in memory only) over one ``requests.Session``."""

    def __init__(
        self,
        credentials: TemporaryCredentials,
        session: requests.Session,
        timeout: tuple[float, float],
        *,
        cloud: Cloud,
        region: str,
        endpoint: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._credentials = credentials
        self._session = session
        self._timeout = timeout
        self._address = ObsAddress(cloud, region, endpoint)
        self._clock = clock

    @classmethod
    def for_settings(
        cls,
        credentials: TemporaryCredentials,
        session: requests.Session,
        timeout: tuple[float, float],
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> ObsClient:
        """The client for the cloud, region and OBS_ENDPOINT of ``settings``."""
        return cls(
            credentials,
            session,
            timeout,
            cloud=settings.cloud,
            region=settings.region,
            endpoint=settings.obs_endpoint,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"ObsClient({self._address!r})"

    def object_url(self, bucket: str, key: str) -> str:
        """The object's HTTP(S) address for the cloud and region (or the configured endpoint)."""
        return self._address.url(check_bucket_name(bucket), _check_key(key))

    # --- the calls -------------------------------------------------------------------------------

    def head_object(self, bucket: str, key: str) -> ObjectInfo | ObjectMissing:
        """The object's size, last modification and ETag, or ObjectMissing if there is none."""
        operation = f"head object {bucket}/{key}"
        response = self._call("HEAD", bucket, _check_key(key), operation=operation, missing_ok=True)
        if response.status_code == 404:
            return ObjectMissing(bucket=bucket, key=key)
        try:
            size = int(response.headers["Content-Length"])
        except (KeyError, ValueError):
            raise UnexpectedResponseError(
                f"{operation}: OBS answered without a readable Content-Length", status=response.status_code
            ) from None
        if size < 0:
            raise UnexpectedResponseError(f"{operation}: OBS answered a negative Content-Length")
        return ObjectInfo(
            key=key,
            size_bytes=size,
            last_modified=http_time(response.headers.get("Last-Modified")),
            etag=etag_value(response.headers.get("ETag")),
        )

    def head_bucket(self, bucket: str) -> BucketInfo:
        """That the bucket exists and may be read, with the storage class and location HEAD carries
        (``x-obs-storage-class``, ``x-obs-bucket-location``); BucketNotFoundError if there is none."""
        operation = f"head bucket {bucket}"
        response = self._call("HEAD", bucket, None, operation=operation, missing_ok=True)
        if response.status_code == 404:
            raise BucketNotFoundError(
                f"{operation}: OBS has no bucket {bucket}", code="NoSuchBucket", status=404
            )
        headers = response.headers
        return BucketInfo(
            bucket=bucket,
            storage_class=upper_or_none(
                headers.get("x-obs-storage-class") or headers.get("x-default-storage-class")
            ),
            location=(headers.get("x-obs-bucket-location") or "").strip() or None,
        )

    def bucket_location(self, bucket: str) -> str | None:
        """``GET /?location``: the bucket's region (``Location``, or S3's ``LocationConstraint``)."""
        return self._bucket_value(bucket, "location", ("Location", "LocationConstraint"))

    def bucket_storage_class(self, bucket: str) -> str | None:
        """``GET /?storageClass``: the bucket's default storage class (``StorageClass``, or
        ``DefaultStorageClass`` of the storagePolicy form)."""
        return upper_or_none(
            self._bucket_value(bucket, "storageClass", ("StorageClass", "DefaultStorageClass"))
        )

    def bucket_subresource(self, bucket: str, subresource: str) -> bytes:
        """A bucket's sub-resource (``?location``, ``?notification``, ...): the XML document OBS answers."""
        operation = f"get {subresource} of bucket {bucket}"
        return self._call("GET", bucket, None, operation=operation, params={subresource: ""}).content

    def put_bucket_subresource(self, bucket: str, subresource: str, document: bytes) -> None:
        """Replace a bucket's sub-resource with ``document`` (XML; OBS replaces it whole)."""
        operation = f"set {subresource} of bucket {bucket}"
        self._call("PUT", bucket, None, operation=operation, params={subresource: ""}, body=document)

    def _bucket_value(self, bucket: str, subresource: str, elements: Sequence[str]) -> str | None:
        root = parse_xml(self.bucket_subresource(bucket, subresource))
        if root is None:
            return None
        if local_name(root.tag) in elements:
            return (root.text or "").strip() or None
        for name in elements:  # the value in a child element (``<StoragePolicy><DefaultStorageClass>``)
            if (text := child_text(root, name)) is not None:
                return text or None
        return None

    def list_objects(self, bucket: str, prefix: str = "", *, page_size: int = MAX_KEYS) -> list[ObjectInfo]:
        """Every object under ``prefix``, all pages (``marker`` / ``IsTruncated`` / ``NextMarker``)."""
        if not 1 <= page_size <= MAX_KEYS:
            raise InvalidRequestError(f"page_size must be between 1 and {MAX_KEYS}", code="InvalidPageSize")
        operation = f"list objects in {bucket} under {prefix!r}"
        objects: list[ObjectInfo] = []
        marker: str | None = None
        for _page in range(MAX_PAGES):
            params = {"max-keys": str(page_size), **({"prefix": prefix} if prefix else {})}
            if marker is not None:
                params["marker"] = marker
            response = self._call("GET", bucket, None, operation=operation, params=params)
            page, truncated, next_marker = self._parse_listing(response, operation)
            objects.extend(page)
            if not truncated:
                return objects
            # Without a delimiter OBS may leave NextMarker out, as S3 does: the last key is the marker.
            following = next_marker or (page[-1].key if page else None)
            if following is None or (marker is not None and following <= marker):
                raise UnexpectedResponseError(f"{operation}: OBS says truncated but gives no next marker")
            marker = following
        raise UnexpectedResponseError(f"{operation}: more than {MAX_PAGES} pages")

    def delete_object(self, bucket: str, key: str) -> None:
        """Delete the object; an object that is already gone counts as deleted."""
        self._call(
            "DELETE", bucket, _check_key(key), operation=f"delete object {bucket}/{key}", missing_ok=True
        )

    # --- answers ---------------------------------------------------------------------------------

    @staticmethod
    def _parse_listing(
        response: requests.Response, operation: str
    ) -> tuple[list[ObjectInfo], bool, str | None]:
        root = parse_xml(response.content)
        if root is None or local_name(root.tag) != "ListBucketResult":
            raise UnexpectedResponseError(
                f"{operation}: OBS answered without a ListBucketResult", status=response.status_code
            )
        objects = []
        for element in root:
            if local_name(element.tag) != "Contents":
                continue
            key = child_text(element, "Key")
            try:
                size = int(child_text(element, "Size") or "")
            except ValueError:
                size = -1
            if not key or size < 0:
                raise UnexpectedResponseError(f"{operation}: a listed object has no key or size")
            objects.append(
                ObjectInfo(
                    key=key,
                    size_bytes=size,
                    last_modified=iso_time(child_text(element, "LastModified")),
                    etag=etag_value(child_text(element, "ETag")),
                )
            )
        truncated = (child_text(root, "IsTruncated") or "").lower() == "true"
        return objects, truncated, child_text(root, "NextMarker") or None

    # --- transport -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        bucket: str,
        key: str | None,
        *,
        operation: str,
        params: Mapping[str, str] | None = None,
        missing_ok: bool = False,
        body: bytes | None = None,
    ) -> requests.Response:
        check_bucket_name(bucket)
        credentials = self._credentials
        headers = {
            "Date": format_datetime(self._clock().astimezone(UTC), usegmt=True),
            SECURITY_TOKEN_HEADER: credentials.security_token.get_secret_value(),
        }
        if body is not None:  # signed with the request: OBS checks both
            headers["Content-Type"] = "application/xml"
            headers["Content-MD5"] = base64.b64encode(
                hashlib.md5(body, usedforsecurity=False).digest()
            ).decode()
        resource = canonical_resource(bucket, key, params or {})
        headers["Authorization"] = authorization(
            credentials.access_key_id,
            credentials.secret_access_key.get_secret_value(),
            build_string_to_sign(method, headers, resource),
        )
        host = self._address.host(bucket)
        try:
            response = self._session.request(
                method,
                self._address.url(bucket, key) + _query(params or {}),
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,  # a redirect would carry the security token to another host
            )
        except TRANSPORT_ERRORS as error:
            raise UpstreamTimeoutError(
                f"{operation}: no answer from OBS at {host} ({type(error).__name__})"
            ) from None
        logger.debug("OBS %s %s -> %s", method, operation, response.status_code)
        if 200 <= response.status_code < 300:
            return response
        code, message = error_details(response)
        if response.status_code == 404 and missing_ok and code != "NoSuchBucket":
            return response
        raise self._error_for(response, code, message, operation)

    def _error_for(
        self, response: requests.Response, code: str | None, message: str | None, operation: str
    ) -> ImsExportError:
        status = response.status_code
        detail = message or response.reason or "no message"
        text = redact_message(f"{operation}: OBS answered {status} {code or ''}: {detail}", self._secrets())
        transient = transient_error(response, text, code, throttled=code == "SlowDown")
        if transient is not None:
            return transient
        if status == 403:
            return ObsAccessDeniedError(text, code=code, status=status)
        if code == "NoSuchBucket":
            return BucketNotFoundError(text, code=code, status=status)
        return ObsRequestError(text, code=code, status=status)

    def _secrets(self) -> Sequence[str]:
        return self._credentials.secret_values()


def _query(params: Mapping[str, str]) -> str:
    """The query string, a sub-resource without a value written bare (``?location``), as the OBS API
    reference writes it (and as it is signed)."""
    parts = [
        quote(name, safe="") + (f"={quote(value, safe='')}" if value else "")
        for name, value in params.items()
    ]
    return "?" + "&".join(parts) if parts else ""


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or key.startswith("/"):
        raise InvalidRequestError(
            f"object key must be 1-{MAX_KEY_LENGTH} characters and not start with '/'",
            code="InvalidObjectKey",
        )
    return key
