"""Reading OBS event notifications (the SMN ``message`` text): the objects created, the test notification,
other events ignored, and every malformed message refused with its reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ims_export.domain.obs_notifications import (
    MAX_KEY_BYTES,
    MAX_RECORDS,
    ObjectCreated,
    parse_obs_notification,
)
from ims_export.errors import InvalidRequestError
from ims_export.steps.wake import wake_record_id
from tests.notifications.obs_messages import BUCKET, KEY, message, obs_record, s3_record


def created(key: str = KEY, bucket: str = BUCKET) -> ObjectCreated:
    return ObjectCreated(bucket=bucket, key=key, event_name="ObjectCreated:Put")


# --- the documented forms --------------------------------------------------------------------------------


def test_reads_the_otc_public_form_with_an_s3_block() -> None:
    notification = parse_obs_notification(message(s3_record()))

    assert not notification.is_test
    assert notification.ignored_records == 0
    assert notification.created == (
        ObjectCreated(
            bucket="testbucket",
            key="SMN/test.txt",
            event_name="ObjectCreated:Post",
            size=1024,
            etag="9b2cf535f27731c974343645a3985328",
            event_time=datetime(2020, 7, 10, 9, 24, 11, 418000, tzinfo=UTC),
            region="eu-de",
            sequencer="000000000000000001",
        ),
    )


def test_reads_the_swiss_and_huawei_form_with_an_obs_block() -> None:
    notification = parse_obs_notification(message(obs_record()))

    assert notification.created == (
        ObjectCreated(
            bucket="testbucket",
            key="SMN/test.txt",
            event_name="ObjectCreated:Put",
            size=2048,
            etag="9b2cf535f27731c974343645a3985328",
            event_time=datetime(2020, 7, 10, 9, 24, 11, 418000, tzinfo=UTC),
            region="eu-ch2",
            sequencer="000000000000000002",
        ),
    )


def test_a_decoded_message_reads_as_its_text() -> None:
    body = {"Records": [s3_record(), obs_record()]}
    assert parse_obs_notification(body) == parse_obs_notification(json.dumps(body))
    assert [item.region for item in parse_obs_notification(body).created] == ["eu-de", "eu-ch2"]


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectCreated:Copy",
        "ObjectCreated:CompleteMultipartUpload",
    ],
)
@pytest.mark.parametrize("prefix", ["", "s3:"])
@pytest.mark.parametrize("record", [s3_record, obs_record])
def test_every_documented_created_event_is_read_with_or_without_the_s3_prefix(
    event_name: str, prefix: str, record: Callable[..., dict[str, Any]]
) -> None:
    notification = parse_obs_notification(message(record(event_name=prefix + event_name)))
    assert [item.event_name for item in notification.created] == [event_name]


def test_the_optional_fields_may_be_left_out_or_empty() -> None:
    record = obs_record()
    for field in ("eTag", "size", "sequencer"):
        del record["obs"]["object"][field]
    del record["eventTime"]
    record["eventRegion"] = ""

    (item,) = parse_obs_notification(message(record)).created

    assert (item.size, item.etag, item.sequencer, item.event_time, item.region) == (None,) * 5
    assert (item.bucket, item.key) == (BUCKET, KEY)


def test_an_event_time_without_offset_is_taken_as_utc() -> None:
    record = s3_record()
    record["eventTime"] = "2020-07-10T09:24:11"
    (item,) = parse_obs_notification(message(record)).created
    assert item.event_time == datetime(2020, 7, 10, 9, 24, 11, tzinfo=UTC)


def test_the_obs_block_may_repeat_the_bucket_name() -> None:
    record = obs_record()
    record["obs"]["bucket"]["bucket"] = BUCKET
    assert [item.bucket for item in parse_obs_notification(message(record)).created] == [BUCKET]


# --- URL-encoded keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("exports/my+image.qcow2", "exports/my image.qcow2"),
        ("exports%2Fnightly%2Fweb.vhd", "exports/nightly/web.vhd"),
        ("exports/%C3%BCbung-%E2%82%AC.vmdk", "exports/übung-€.vmdk"),
        ("exports/%E9%95%9C%E5%83%8F.zvhd", "exports/镜像.zvhd"),
        ("a%2Bb.qcow2", "a+b.qcow2"),
        ("100%25.qcow2", "100%.qcow2"),
        ("exports/%20lead.qcow2", "exports/ lead.qcow2"),
        ("plain/key-1.qcow2", "plain/key-1.qcow2"),
    ],
)
@pytest.mark.parametrize("record", [s3_record, obs_record])
def test_keys_are_url_decoded(encoded: str, decoded: str, record: Callable[..., dict[str, Any]]) -> None:
    (item,) = parse_obs_notification(message(record(key=encoded))).created
    assert item.key == decoded


def test_a_key_of_exactly_the_longest_length_is_read() -> None:
    key = "%C3%BC" * (MAX_KEY_BYTES // 2)  # 512 "ü", two bytes each
    (item,) = parse_obs_notification(message(s3_record(key=key))).created
    assert item.key == "ü" * (MAX_KEY_BYTES // 2)
    assert len(item.key.encode()) == MAX_KEY_BYTES


# --- the test notification and other events --------------------------------------------------------------


TEST_NOTIFICATION = {
    "Service": "OBS",
    "Event": "s3:TestEvent",
    "Time": "2026-11-27T12:00:00.000Z",
    "Bucket": BUCKET,
    "RequestId": "0000016C7B1F4B4A",
    "HostId": "32AAAQAAEAABSAAg",
}


@pytest.mark.parametrize("body", [TEST_NOTIFICATION, json.dumps(TEST_NOTIFICATION)])
def test_the_test_notification_is_recognised_and_starts_nothing(body: str | dict[str, Any]) -> None:
    notification = parse_obs_notification(body)
    assert notification.is_test
    assert notification.created == ()
    assert notification.nothing_to_do


@pytest.mark.parametrize("event_name", ["ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"])
@pytest.mark.parametrize("record", [s3_record, obs_record])
def test_removals_are_counted_and_ignored(event_name: str, record: Callable[..., dict[str, Any]]) -> None:
    notification = parse_obs_notification(message(record(event_name=event_name)))
    assert notification.created == ()
    assert notification.ignored_records == 1
    assert notification.nothing_to_do
    assert not notification.is_test


def test_a_message_with_a_removal_and_a_creation_reports_only_the_creation() -> None:
    notification = parse_obs_notification(
        message(obs_record(key="old.qcow2", event_name="ObjectRemoved:Delete"), obs_record(key="new.qcow2"))
    )
    assert [item.key for item in notification.created] == ["new.qcow2"]
    assert notification.ignored_records == 1
    assert not notification.nothing_to_do


# --- refusals ------------------------------------------------------------------------------------------


def _changed(
    change: Callable[[dict[str, Any]], object], record: Callable[..., dict[str, Any]] = s3_record
) -> str:
    body = record()
    change(body)
    return message(body)


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(body: dict[str, Any]) -> None:
        target = body
        for part in parents:
            target = target[part]
        target[last] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(body: dict[str, Any]) -> None:
        target = body
        for part in parents:
            target = target[part]
        del target[last]

    return change


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        pytest.param("{not json", "NotJson", "not JSON", id="not-json"),
        pytest.param('{"Records": [NaN]}', "NotJson", "NaN is not a JSON number", id="nan"),
        pytest.param("[1, 2]", "NotAnObject", "not a JSON object", id="array"),
        pytest.param("x" * (300 * 1024), "TooLarge", "exceeds", id="too-large"),
        pytest.param("{}", "NoRecords", "no Records list", id="no-records"),
        pytest.param('{"Records": {}}', "NoRecords", "no Records list", id="records-not-a-list"),
        pytest.param('{"Records": []}', "NoRecords", "Records list is empty", id="records-empty"),
        pytest.param(
            '{"Records": [1]}', "MalformedRecord", "record 0 is not a JSON object", id="record-number"
        ),
        pytest.param(
            message({**TEST_NOTIFICATION, "eventName": "ObjectCreated:Put"}),
            "MalformedRecord",
            "exactly one of the blocks",
            id="record-without-block",
        ),
        pytest.param(
            message({**s3_record(), "obs": obs_record()["obs"]}),
            "MalformedRecord",
            "exactly one of the blocks",
            id="record-with-both-blocks",
        ),
        pytest.param(
            _changed(_set("eventSource", "OBS")),
            "MalformedRecord",
            "an 's3' block comes with eventSource 'aws:s3'",
            id="s3-block-from-obs",
        ),
        pytest.param(
            _changed(_set("eventSource", "aws:s3"), obs_record),
            "MalformedRecord",
            "an 'obs' block comes with eventSource 'OBS'",
            id="obs-block-from-aws",
        ),
        pytest.param(_changed(_drop("eventName")), "UnknownEvent", "has no eventName", id="no-event-name"),
        pytest.param(
            _changed(_set("eventName", "ObjectCreated:*")),
            "UnknownEvent",
            "'ObjectCreated:\\*' is not a documented OBS event",
            id="wildcard-event",
        ),
        pytest.param(
            _changed(_set("eventName", "Put")), "UnknownEvent", "'Put' is not a documented", id="bare-event"
        ),
        pytest.param(
            _changed(_set("eventName", "objectcreated:put")),
            "UnknownEvent",
            "not a documented OBS event",
            id="event-in-other-case",
        ),
        pytest.param(
            _changed(_set("eventName", "ObjectRestore:Completed")),
            "UnknownEvent",
            "not a documented OBS event",
            id="undocumented-event",
        ),
        pytest.param(
            _changed(_drop("s3.bucket")), "MalformedRecord", "record 0.s3.bucket is missing", id="no-bucket"
        ),
        pytest.param(
            _changed(_drop("s3.bucket.name")), "MissingBucket", "has no bucket name", id="no-bucket-name"
        ),
        pytest.param(
            _changed(_set("s3.bucket.name", "")), "MissingBucket", "has no bucket name", id="empty-bucket"
        ),
        pytest.param(
            _changed(_set("s3.bucket.name", 7)), "MissingBucket", "has no bucket name", id="bucket-number"
        ),
        pytest.param(
            _changed(_set("s3.bucket.name", "Test_Bucket")),
            "InvalidBucketName",
            "bucket name must be 3-63 characters",
            id="invalid-bucket-name",
        ),
        pytest.param(
            _changed(_set("obs.bucket.bucket", "otherbucket"), obs_record),
            "MalformedRecord",
            "bucket.name and bucket.bucket differ",
            id="bucket-names-differ",
        ),
        pytest.param(
            _changed(_drop("s3.object")), "MalformedRecord", "record 0.s3.object is missing", id="no-object"
        ),
        pytest.param(_changed(_drop("s3.object.key")), "MissingKey", "has no object key", id="no-key"),
        pytest.param(_changed(_set("s3.object.key", "")), "MissingKey", "has no object key", id="empty-key"),
        pytest.param(
            _changed(_set("s3.object.key", ["a"])), "MissingKey", "has no object key", id="key-list"
        ),
        pytest.param(
            _changed(_set("s3.object.key", "a%zz")), "InvalidKey", "'%' without two hex", id="bad-percent"
        ),
        pytest.param(
            _changed(_set("s3.object.key", "a%2")), "InvalidKey", "'%' without two hex", id="cut-percent"
        ),
        pytest.param(_changed(_set("s3.object.key", "%FF.qcow2")), "InvalidKey", "not UTF-8", id="not-utf8"),
        pytest.param(_changed(_set("s3.object.key", "a%00b")), "InvalidKey", "control character", id="nul"),
        pytest.param(
            _changed(_set("s3.object.key", "a%0Ab")), "InvalidKey", "control character", id="newline"
        ),
        pytest.param(
            _changed(_set("s3.object.key", "a\u0007b")), "InvalidKey", "control character", id="raw-bell"
        ),
        pytest.param(
            _changed(_set("s3.object.key", "a%C2%85b")), "InvalidKey", "control character", id="c1-control"
        ),
        pytest.param(
            _changed(_set("s3.object.key", "a\ud800b")), "InvalidKey", "control character", id="surrogate"
        ),
        pytest.param(
            _changed(_set("s3.object.key", "a" * (MAX_KEY_BYTES + 1))),
            "InvalidKey",
            f"longer than {MAX_KEY_BYTES} bytes",
            id="key-too-long",
        ),
        pytest.param(
            _changed(_set("s3.object.key", "%C3%BC" * (MAX_KEY_BYTES // 2) + "a")),
            "InvalidKey",
            f"longer than {MAX_KEY_BYTES} bytes",
            id="key-too-long-in-bytes",
        ),
        pytest.param(_changed(_set("s3.object.size", "1024")), "MalformedRecord", "size", id="size-text"),
        pytest.param(_changed(_set("s3.object.size", -1)), "MalformedRecord", "size", id="size-negative"),
        pytest.param(_changed(_set("s3.object.size", 1.5)), "MalformedRecord", "size", id="size-fraction"),
        pytest.param(_changed(_set("s3.object.size", True)), "MalformedRecord", "size", id="size-bool"),
        pytest.param(
            _changed(_set("s3.object.eTag", 5)), "MalformedRecord", "eTag is not a string", id="etag"
        ),
        pytest.param(
            _changed(_set("eventTime", "yesterday")),
            "MalformedRecord",
            "'yesterday' is not ISO 8601",
            id="time",
        ),
        pytest.param(
            _changed(_set("awsRegion", 5)), "MalformedRecord", "awsRegion is not a string", id="region"
        ),
        pytest.param(
            _changed(_drop("obs.object.key"), obs_record), "MissingKey", "has no object key", id="obs-no-key"
        ),
        pytest.param(
            message(s3_record(key="a%zz", event_name="ObjectRemoved:Delete")),
            "InvalidKey",
            "without two hex",
            id="malformed-removal",
        ),
        pytest.param(
            message(s3_record(), s3_record(key="")),
            "MissingKey",
            "record 1 has no object key",
            id="one-bad-record-among-good",
        ),
        pytest.param(
            '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket":'
            ' {"name": "testbucket"}, "object": {"key": "a.qcow2", "key": "b.qcow2"}}}]}',
            "DuplicateMember",
            "'key' appears twice",
            id="duplicate-key-member",
        ),
        pytest.param(
            {**TEST_NOTIFICATION, "Records": [s3_record()]},
            "MalformedTestEvent",
            "test notification carries no Records",
            id="test-event-with-records",
        ),
    ],
)
def test_malformed_messages_are_refused_with_their_reason(
    body: str | dict[str, Any], code: str, reason: str
) -> None:
    with pytest.raises(InvalidRequestError, match=reason) as raised:
        parse_obs_notification(body)
    assert raised.value.code == code
    assert "OBS notification refused" in raised.value.message


def test_up_to_the_limit_of_records_is_read_and_one_more_is_refused() -> None:
    at_limit = [obs_record(key=f"exports/{index}.qcow2") for index in range(MAX_RECORDS)]
    assert len(parse_obs_notification(message(*at_limit)).created) == MAX_RECORDS

    with pytest.raises(InvalidRequestError, match=f"more than {MAX_RECORDS} records") as raised:
        parse_obs_notification(message(*at_limit, obs_record()))
    assert raised.value.code == "TooManyRecords"


def test_a_refusal_quotes_a_value_cut_short_and_on_one_line() -> None:
    body = _changed(_set("eventName", "ObjectCreated:" + "X" * 10_000 + "\n\x1b[31m"))
    with pytest.raises(InvalidRequestError) as raised:
        parse_obs_notification(body)
    text = str(raised.value)
    assert len(text) < 200
    assert "\n" not in text
    assert "\x1b" not in text


# --- matching the export: the wake record of exactly its bucket and key ---------------------------------


def matches_export(item: ObjectCreated, bucket: str, key: str) -> bool:
    return wake_record_id(item.bucket, item.key) == wake_record_id(bucket, key)


def test_only_the_exact_bucket_and_key_match_the_export() -> None:
    (item,) = parse_obs_notification(message(obs_record(key="exports/my+image.qcow2"))).created
    assert matches_export(item, BUCKET, "exports/my image.qcow2")


@pytest.mark.parametrize(
    ("bucket", "key"),
    [
        pytest.param(BUCKET, "exports/web.qcow", id="prefix-of-the-key"),
        pytest.param(BUCKET, "exports/web.qcow2.part", id="key-with-suffix"),
        pytest.param(BUCKET, "old/exports/web.qcow2", id="key-in-another-folder"),
        pytest.param(BUCKET, "/exports/web.qcow2", id="leading-slash"),
        pytest.param(BUCKET, "Exports/Web.qcow2", id="other-case"),
        pytest.param(BUCKET, "exports%2Fweb.qcow2", id="still-encoded"),
        pytest.param(BUCKET, "exports/web.qcow2 ", id="trailing-space"),
        pytest.param("otherbucket", "exports/web.qcow2", id="other-bucket"),
        pytest.param("TESTBUCKET", "exports/web.qcow2", id="bucket-in-other-case"),
    ],
)
def test_a_key_that_only_resembles_the_export_does_not_match(bucket: str, key: str) -> None:
    item = created(key="exports/web.qcow2")
    assert matches_export(item, BUCKET, "exports/web.qcow2")
    assert not matches_export(item, bucket, key)


def test_a_resembling_object_in_a_notification_does_not_match() -> None:
    notification = parse_obs_notification(
        message(
            s3_record(key="exports/web.qcow2.tmp"), s3_record(key="exports/web.qcow2", bucket="otherbucket")
        )
    )
    assert len(notification.created) == 2
    assert not any(matches_export(item, BUCKET, "exports/web.qcow2") for item in notification.created)
