"""The OBS V2 header signature against known answers.

- S3's published V2 examples (AWS "Signing and Authenticating REST Requests", key
  AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY): OBS signs the same way, with
  ``x-obs-`` headers, so for requests without vendor headers the signatures are the same.
- The StringToSign tables of the OBS API reference (obs_04_0010), which show the security token
  header, ``x-obs-date`` emptying Date, and the ``?acl`` sub-resource.
"""

from __future__ import annotations

import pytest

from ims_export.cloud.obs_signature import (
    authorization,
    canonical_headers,
    canonical_resource,
    signature,
    string_to_sign,
)

S3_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
S3_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.mark.parametrize(
    ("method", "headers", "resource", "expected"),
    [
        # Object GET
        (
            "GET",
            {"Date": "Tue, 27 Mar 2007 19:36:42 +0000"},
            "/johnsmith/photos/puppy.jpg",
            "bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
        ),
        # Object PUT: Content-Type is signed
        (
            "PUT",
            {
                "Content-Type": "image/jpeg",
                "Content-Length": "94328",
                "Date": "Tue, 27 Mar 2007 21:15:45 +0000",
            },
            "/johnsmith/photos/puppy.jpg",
            "MyyxeRY7whkBe+bq8fHCL/2kKUg=",
        ),
        # Fetch the ACL: a sub-resource is part of the resource
        (
            "GET",
            {"Date": "Tue, 27 Mar 2007 19:44:46 +0000"},
            "/johnsmith/?acl",
            "c2WLPFtWHVgbEmeEG93a4cG37dM=",
        ),
    ],
)
def test_s3_v2_known_answers(method: str, headers: dict[str, str], resource: str, expected: str) -> None:
    assert signature(S3_SECRET, string_to_sign(method, headers, resource)) == expected
    assert authorization(S3_ACCESS_KEY, S3_SECRET, string_to_sign(method, headers, resource)) == (
        f"OBS {S3_ACCESS_KEY}:{expected}"
    )


def test_listing_parameters_are_not_signed_known_answer() -> None:
    """S3's list example: GET /?prefix=photos&max-keys=50&marker=puppy signs only ``/johnsmith/``."""
    resource = canonical_resource(
        "johnsmith", None, {"prefix": "photos", "max-keys": "50", "marker": "puppy"}
    )
    text = string_to_sign("GET", {"Date": "Tue, 27 Mar 2007 19:42:41 +0000"}, resource)

    assert resource == "/johnsmith/"
    assert signature(S3_SECRET, text) == "htDYFYduRNen8P9ZfE/s9SuKy0U="


def test_obs_table_security_token_and_obs_date() -> None:
    """obs_04_0010 Table 3: temporary AK/SK with x-obs-date (Date empty) and the security token."""
    headers = {
        "User-Agent": "curl/7.15.5",
        "Host": "bucket.obs.region.example.com",
        "x-obs-date": "Tue, 15 Oct 2015 07:20:09 GMT",
        "x-obs-security-token": " YwkaRTbdY8g7q....",
        "content-type": "text/plain",
        "Content-Length": "5913339",
    }
    assert string_to_sign("PUT", headers, canonical_resource("bucket", "object.txt")) == (
        "PUT\n\ntext/plain\n\n"
        "x-obs-date:Tue, 15 Oct 2015 07:20:09 GMT\n"
        "x-obs-security-token:YwkaRTbdY8g7q....\n"
        "/bucket/object.txt"
    )


def test_obs_table_acl_and_content_md5() -> None:
    """obs_04_0010 Tables 5 and 6."""
    acl = canonical_resource("bucket", "object.txt", {"acl": None})
    assert string_to_sign("GET", {"Date": "Sat, 12 Oct 2015 08:12:38 GMT"}, acl) == (
        "GET\n\n\nSat, 12 Oct 2015 08:12:38 GMT\n/bucket/object.txt?acl"
    )
    headers = {"x-obs-date": "Tue, 15 Oct 2015 07:20:09 GMT", "Content-MD5": "I5pU0r4+sgO9Emgl1KMQUg=="}
    assert string_to_sign("PUT", headers, canonical_resource("bucket", "object.txt")) == (
        "PUT\nI5pU0r4+sgO9Emgl1KMQUg==\n\n\nx-obs-date:Tue, 15 Oct 2015 07:20:09 GMT\n/bucket/object.txt"
    )


def test_sub_resources_are_sorted_and_other_parameters_dropped() -> None:
    """The documented GetObject example: ?response-content-type=text/plain&versionId=xxx."""
    query = {"versionId": "xxx", "prefix": "ignored", "response-content-type": "text/plain", "marker": "m"}
    assert canonical_resource("bucket-test", "object-test", query) == (
        "/bucket-test/object-test?response-content-type=text/plain&versionId=xxx"
    )
    assert canonical_resource(None) == "/"


def test_canonical_headers_lower_case_trimmed_merged_and_sorted() -> None:
    headers = [
        ("X-OBS-Meta-Name", " name1"),
        ("Content-Type", "text/plain"),
        ("x-obs-acl", "public-read "),
        ("x-obs-meta-name", "name2"),
    ]
    assert canonical_headers(headers) == "x-obs-acl:public-read\nx-obs-meta-name:name1,name2\n"


def test_keys_are_percent_encoded_in_the_resource_but_slashes_kept() -> None:
    assert canonical_resource("bucket", "exports/a b+c~d.qcow2") == "/bucket/exports/a%20b%2Bc~d.qcow2"
