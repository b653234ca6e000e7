"""The OBS client against documented answers (``responses``): addressing, signing, HEAD, paged
listing, DELETE, and the errors, with no secret in any message or log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
import requests
import responses

from ims_export.cloud.http import new_session
from ims_export.cloud.obs import ObsClient
from ims_export.cloud.obs_address import default_obs_host
from ims_export.cloud.obs_signature import authorization, canonical_resource, string_to_sign
from ims_export.domain.objects import ObjectInfo, ObjectMissing
from ims_export.errors import (
    BucketNotFoundError,
    ConfigurationError,
    InvalidRequestError,
    ObsAccessDeniedError,
    ObsRequestError,
    TransientError,
    UnexpectedResponseError,
    UpstreamThrottledError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from ims_export.settings import Cloud
from tests.obs.conftest import (
    ACCESS_KEY,
    NOW,
    SECRET_KEY,
    SECURITY_TOKEN,
    TIMEOUT,
    fixed_credentials,
    unused_loopback_port,
)

BUCKET = "ims-export-demo"
HOST = "https://ims-export-demo.obs.eu-de.otc.t-systems.com"
KEY = "exports/debian-12-4f1c2a9e-7f9b-4a59-9a3e-2a8d1f0c5b6e-20250106.qcow2"
NAMESPACE = "http://obs.otc.t-systems.com/doc/2016-01-01/"


def listing(keys: list[str], *, truncated: bool = False, next_marker: str | None = None) -> str:
    contents = "".join(
        f"<Contents><Key>{key}</Key><LastModified>2025-01-06T08:{index:02d}:00.000Z</LastModified>"
        f'<ETag>"etag{index}"</ETag><Size>{1000 + index}</Size>'
        "<StorageClass>STANDARD</StorageClass></Contents>"
        for index, key in enumerate(keys)
    )
    marker = f"<NextMarker>{next_marker}</NextMarker>" if next_marker else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{NAMESPACE}"><Name>{BUCKET}</Name>'
        f"<Prefix>exports/</Prefix><Marker></Marker>{marker}<MaxKeys>2</MaxKeys>"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{contents}</ListBucketResult>"
    )


def error_body(code: str, message: str, **extra: str) -> str:
    details = "".join(f"<{name}>{value}</{name}>" for name, value in extra.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message>{details}</Error>"
    )


def path_style_client(endpoint: str) -> ObsClient:
    return ObsClient(
        fixed_credentials(), new_session(), TIMEOUT, cloud=Cloud.OTC, region="eu-de", endpoint=endpoint
    )


@pytest.fixture
def client() -> ObsClient:
    return ObsClient(
        fixed_credentials(), new_session(), TIMEOUT, cloud=Cloud.OTC, region="eu-de", clock=lambda: NOW
    )


@pytest.fixture
def obs() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def _assert_masked(text: str) -> None:
    for secret in (SECRET_KEY, SECURITY_TOKEN, ACCESS_KEY):
        assert secret not in text


# --- endpoints and addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud", "region", "host"),
    [
        (Cloud.OTC, "eu-de", "obs.eu-de.otc.t-systems.com"),
        (Cloud.OTC, "eu-nl", "obs.eu-nl.otc.t-systems.com"),
        (Cloud.OTC, "eu-ch2", "obs.eu-ch2.sc.otc.t-systems.com"),
        (Cloud.HUAWEI, "ap-southeast-1", "obs.ap-southeast-1.myhuaweicloud.com"),
        (Cloud.HUAWEI, "eu-west-101", "obs.eu-west-101.myhuaweicloud.eu"),
    ],
)
def test_endpoint_follows_cloud_and_region(cloud: Cloud, region: str, host: str) -> None:
    assert default_obs_host(cloud, region) == host
    client = ObsClient(fixed_credentials(), new_session(), TIMEOUT, cloud=cloud, region=region)
    assert client.object_url("my-bucket", "exports/a.qcow2") == f"https://my-bucket.{host}/exports/a.qcow2"


def test_explicit_endpoint_is_path_style() -> None:
    client = path_style_client("http://127.0.0.1:9000/")
    assert (
        client.object_url(BUCKET, "exports/a b.qcow2")
        == f"http://127.0.0.1:9000/{BUCKET}/exports/a%20b.qcow2"
    )


@pytest.mark.parametrize("endpoint", ["ftp://obs.example", "https://obs.example/?x=1", "obs.example"])
def test_malformed_endpoint_is_a_configuration_error(endpoint: str) -> None:
    with pytest.raises(ConfigurationError, match="OBS_ENDPOINT"):
        ObsClient(
            fixed_credentials(), new_session(), TIMEOUT, cloud=Cloud.OTC, region="eu-de", endpoint=endpoint
        )


@pytest.mark.parametrize(
    ("bucket", "key"), [("Bad_Bucket", "a"), (BUCKET, ""), (BUCKET, "/abs"), (BUCKET, "k" * 1025)]
)
def test_bad_names_are_refused_before_any_call(client: ObsClient, bucket: str, key: str) -> None:
    with pytest.raises(InvalidRequestError):
        client.head_object(bucket, key)


# --- HEAD --------------------------------------------------------------------------------------


def test_head_is_signed_with_the_security_token(client: ObsClient, obs: responses.RequestsMock) -> None:
    obs.head(
        f"{HOST}/{KEY}",
        headers={
            "Content-Length": "2147483648",
            "Last-Modified": "Mon, 06 Jan 2025 08:12:38 GMT",
            "ETag": '"abc"',
        },
    )

    info = client.head_object(BUCKET, KEY)

    assert info == ObjectInfo(
        key=KEY, size_bytes=2147483648, last_modified=datetime(2025, 1, 6, 8, 12, 38, tzinfo=UTC), etag="abc"
    )
    sent = obs.calls[0].request
    date = format_datetime(NOW, usegmt=True)
    assert sent.headers["Date"] == date == "Mon, 06 Jan 2025 08:30:00 GMT"
    assert sent.headers["x-obs-security-token"] == SECURITY_TOKEN
    expected = string_to_sign(
        "HEAD", {"Date": date, "x-obs-security-token": SECURITY_TOKEN}, f"/{BUCKET}/{KEY}"
    )
    assert expected == f"HEAD\n\n\n{date}\nx-obs-security-token:{SECURITY_TOKEN}\n/{BUCKET}/{KEY}"
    assert sent.headers["Authorization"] == authorization(ACCESS_KEY, SECRET_KEY, expected)


def test_missing_object_is_a_named_result(client: ObsClient, obs: responses.RequestsMock) -> None:
    obs.head(f"{HOST}/{KEY}", status=404)
    assert client.head_object(BUCKET, KEY) == ObjectMissing(bucket=BUCKET, key=KEY)


def test_unreadable_last_modified_is_unknown_not_an_error(
    client: ObsClient, obs: responses.RequestsMock
) -> None:
    obs.head(f"{HOST}/{KEY}", headers={"Content-Length": "5", "Last-Modified": "yesterday"})
    info = client.head_object(BUCKET, KEY)
    assert isinstance(info, ObjectInfo)
    assert (info.size_bytes, info.last_modified, info.etag) == (5, None, None)


def test_last_modified_in_iso_8601_is_read_too(client: ObsClient, obs: responses.RequestsMock) -> None:
    obs.head(f"{HOST}/{KEY}", headers={"Content-Length": "5", "Last-Modified": "2025-01-06T08:12:38Z"})
    info = client.head_object(BUCKET, KEY)
    assert isinstance(info, ObjectInfo)
    assert info.last_modified == datetime(2025, 1, 6, 8, 12, 38, tzinfo=UTC)


def test_head_without_content_length_is_unexpected(client: ObsClient, obs: responses.RequestsMock) -> None:
    obs.head(f"{HOST}/{KEY}", headers={"Content-Length": "many"})
    with pytest.raises(UnexpectedResponseError, match="Content-Length"):
        client.head_object(BUCKET, KEY)


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (403, "SignatureDoesNotMatch", ObsAccessDeniedError),
        (403, "AccessDenied", ObsAccessDeniedError),
        (500, "InternalError", UpstreamUnavailableError),
        (503, "ServiceUnavailable", UpstreamUnavailableError),
        (503, "SlowDown", UpstreamThrottledError),
        (429, "TooManyRequests", UpstreamThrottledError),
        (400, "InvalidArgument", ObsRequestError),
        (404, "NoSuchBucket", BucketNotFoundError),
    ],
)
def test_errors_are_typed_and_never_echo_secrets(
    client: ObsClient, obs: responses.RequestsMock, status: int, code: str, error_class: type[Exception]
) -> None:
    # OBS echoes the string it signed, which holds the security token header.
    body = error_body(
        code,
        f"refused {ACCESS_KEY}",
        StringToSign=f"GET\n\n\nx-obs-security-token:{SECURITY_TOKEN}\n/{BUCKET}/",
    )
    obs.get(f"{HOST}/", body=body, status=status, content_type="application/xml")

    with pytest.raises(error_class) as caught:
        client.list_objects(BUCKET, "exports/")

    assert caught.value.code == code  # type: ignore[attr-defined]
    assert caught.value.status == status  # type: ignore[attr-defined]
    _assert_masked(str(caught.value))
    assert BUCKET in str(caught.value), "the message names what was asked"
    assert isinstance(caught.value, TransientError) is (status >= 429 and status != 403)


def test_head_403_without_body(client: ObsClient, obs: responses.RequestsMock) -> None:
    obs.head(f"{HOST}/{KEY}", status=403)
    with pytest.raises(ObsAccessDeniedError, match="403"):
        client.head_object(BUCKET, KEY)


def test_timeout_names_the_host(client: ObsClient, obs: responses.RequestsMock) -> None:
    obs.head(f"{HOST}/{KEY}", body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(UpstreamTimeoutError, match=r"ims-export-demo\.obs\.eu-de\.otc\.t-systems\.com"):
        client.head_object(BUCKET, KEY)


def test_connection_refused_names_the_host() -> None:
    port = unused_loopback_port()
    client = path_style_client(f"http://127.0.0.1:{port}")
    with pytest.raises(UpstreamTimeoutError, match=f"OBS at 127.0.0.1:{port}") as caught:
        client.head_object(BUCKET, KEY)
    assert isinstance(caught.value, TransientError)


# --- listing -----------------------------------------------------------------------------------


def test_listing_pages_with_next_marker(client: ObsClient, obs: responses.RequestsMock) -> None:
    first = responses.matchers.query_param_matcher({"prefix": "exports/", "max-keys": "2"})
    second = responses.matchers.query_param_matcher(
        {"prefix": "exports/", "max-keys": "2", "marker": "exports/b"}
    )
    obs.get(
        f"{HOST}/",
        body=listing(["exports/a", "exports/b"], truncated=True, next_marker="exports/b"),
        match=[first],
    )
    obs.get(f"{HOST}/", body=listing(["exports/c"]), match=[second])

    objects = client.list_objects(BUCKET, "exports/", page_size=2)

    assert [item.key for item in objects] == ["exports/a", "exports/b", "exports/c"]
    assert objects[2] == ObjectInfo(
        key="exports/c", size_bytes=1000, last_modified=datetime(2025, 1, 6, 8, 0, tzinfo=UTC), etag="etag0"
    )
    # Listing parameters are not part of what is signed.
    for call in obs.calls:
        date = call.request.headers["Date"]
        text = string_to_sign("GET", {"Date": date, "x-obs-security-token": SECURITY_TOKEN}, f"/{BUCKET}/")
        assert call.request.headers["Authorization"] == authorization(ACCESS_KEY, SECRET_KEY, text)
    assert canonical_resource(BUCKET, None, {"prefix": "exports/", "marker": "exports/b"}) == f"/{BUCKET}/"


def test_listing_without_next_marker_continues_after_the_last_key(
    client: ObsClient, obs: responses.RequestsMock
) -> None:
    obs.get(f"{HOST}/", body=listing(["exports/a", "exports/b"], truncated=True))
    obs.get(
        f"{HOST}/",
        body=listing(["exports/c"]),
        match=[
            responses.matchers.query_param_matcher(
                {"prefix": "exports/", "max-keys": "1000", "marker": "exports/b"}
            )
        ],
    )
    assert [item.key for item in client.list_objects(BUCKET, "exports/")] == [
        "exports/a",
        "exports/b",
        "exports/c",
    ]


def test_listing_that_never_advances_is_an_error(client: ObsClient, obs: responses.RequestsMock) -> None:
    obs.get(f"{HOST}/", body=listing(["exports/a"], truncated=True, next_marker="exports/a"))
    obs.get(f"{HOST}/", body=listing(["exports/a"], truncated=True, next_marker="exports/a"))
    with pytest.raises(UnexpectedResponseError, match="next marker"):
        client.list_objects(BUCKET, "exports/")


def test_empty_listing(client: ObsClient, obs: responses.RequestsMock) -> None:
    obs.get(f"{HOST}/", body=listing([]))
    assert client.list_objects(BUCKET, "nothing/") == []


@pytest.mark.parametrize(
    "body",
    [
        "not xml at all",
        '<?xml version="1.0"?><Other/>',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
        f'<ListBucketResult xmlns="{NAMESPACE}"><Contents><Key>k</Key></Contents></ListBucketResult>',
    ],
)
def test_listing_that_is_not_understood_is_unexpected(
    client: ObsClient, obs: responses.RequestsMock, body: str
) -> None:
    obs.get(f"{HOST}/", body=body)
    with pytest.raises(UnexpectedResponseError):
        client.list_objects(BUCKET, "exports/")


def test_page_size_is_checked(client: ObsClient) -> None:
    with pytest.raises(InvalidRequestError):
        client.list_objects(BUCKET, "exports/", page_size=1001)


# --- DELETE ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [204, 200, 404])
def test_delete_succeeds_also_when_already_gone(
    client: ObsClient, obs: responses.RequestsMock, status: int
) -> None:
    obs.delete(f"{HOST}/{KEY}", status=status, body=error_body("NoSuchKey", "gone") if status == 404 else "")
    client.delete_object(BUCKET, KEY)
    assert obs.calls[0].request.method == "DELETE"


def test_delete_in_a_missing_bucket_is_named(client: ObsClient, obs: responses.RequestsMock) -> None:
    obs.delete(
        f"{HOST}/{KEY}", status=404, body=error_body("NoSuchBucket", "The specified bucket does not exist")
    )
    with pytest.raises(BucketNotFoundError):
        client.delete_object(BUCKET, KEY)


def test_no_secret_in_repr_or_logs(
    client: ObsClient, obs: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    obs.head(f"{HOST}/{KEY}", headers={"Content-Length": "1"})
    client.head_object(BUCKET, KEY)
    _assert_masked(repr(client))
    _assert_masked(caplog.text)
    assert "head object" in caplog.text
