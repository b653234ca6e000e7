"""OBS event notifications, as SMN carries them in a notification's ``message``: which objects were
created, so that a waiting export can be woken when its object appears.

OBS documents two forms of the same S3-like ``Records`` list (OTC OBS user guide, "SMN-Enabled Event
Notifications"): the OTC public cloud shows ``eventVersion`` 2.0, ``eventSource`` ``aws:s3``,
``awsRegion`` and an ``s3`` block; OTC Swiss and Huawei Cloud show ``eventVersion`` 3.0, ``eventSource``
``OBS``, ``eventRegion`` and an ``obs`` block. Both blocks hold ``bucket.name`` and ``object.key`` (URL
encoded: ``+`` for a space, ``%XX`` for UTF-8 bytes), ``eTag``, ``size`` and ``sequencer``.

A notification may start work, so it is read strictly: one record that is not exactly in a documented
form refuses the whole message (InvalidRequestError, ``code`` says why), and nothing in it is acted on.
Records of other documented events (``ObjectRemoved:*``) are counted and otherwise ignored. No I/O and
no trust here: the SMN message that carries the text must have been verified (``smn.verify``) first.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field

from ims_export.domain.export_request import check_bucket_name
from ims_export.errors import InvalidRequestError

MAX_MESSAGE_CHARS = 256 * 1024  # an SMN message is at most 256 KiB
MAX_RECORDS = 100  # OBS sends one record per event; a long list is not one of its messages
MAX_KEY_BYTES = 1024  # the longest OBS object name, in UTF-8 bytes
MAX_NAMED_CHARS = 40  # a value named in a refusal is cut to this

# The event names of the OBS API reference (obs_04_0039, "Event"). Older Huawei developer guides spell
# the same events with an ``s3:`` prefix, which is read as the same name. Wildcards (``ObjectCreated:*``)
# are configuration values, never the name of an event that happened.
CREATED_EVENTS = frozenset(
    {
        "ObjectCreated:Put",
        "ObjectCreated:Post",
        "ObjectCreated:Copy",
        "ObjectCreated:CompleteMultipartUpload",
    }
)
REMOVED_EVENTS = frozenset({"ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"})
EVENT_NAME_PREFIX = "s3:"

# Each record block with the event source and region field documented beside it.
RECORD_FORMS: Mapping[str, tuple[str, str]] = {
    "s3": ("aws:s3", "awsRegion"),
    "obs": ("OBS", "eventRegion"),
}

# OBS's test notification (sent when a notification is configured) has no documented body; this is the
# S3 shape an S3-compatible service sends: ``{"Service": ..., "Event": "s3:TestEvent", ...}``.
TEST_EVENT = "s3:TestEvent"

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class ObjectCreated(BaseModel):
    """One object OBS reports as created. ``key`` is decoded; ``event_name`` is the documented name
    without an ``s3:`` prefix. The optional fields are None where OBS left them out or empty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    key: str
    event_name: str
    size: int | None = Field(default=None, ge=0)
    etag: str | None = None
    event_time: datetime | None = None
    region: str | None = None
    sequencer: str | None = None


class ObsNotification(BaseModel):
    """What one OBS message says: the objects created, how many records were of other events, or that
    it is OBS's test notification (which never carries records)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    created: tuple[ObjectCreated, ...] = ()
    ignored_records: int = Field(default=0, ge=0)
    is_test: bool = False

    @property
    def nothing_to_do(self) -> bool:
        return not self.created


def parse_obs_notification(message: str | Mapping[str, Any]) -> ObsNotification:
    """Read an OBS event notification (the SMN ``message`` text, or its decoded JSON object).

    Raises InvalidRequestError for anything that is not a documented OBS message: not JSON, no
    ``Records`` list, too many records, or any record without a bucket name and a valid key.
    """
    data = _json_object(message) if isinstance(message, str) else message
    if not isinstance(data, Mapping):
        raise _refuse("the message is not a JSON object", "NotAnObject")
    if data.get("Event") == TEST_EVENT:
        if "Records" in data:
            raise _refuse("a test notification carries no Records", "MalformedTestEvent")
        return ObsNotification(is_test=True)
    records = data.get("Records")
    if not isinstance(records, list):
        raise _refuse("the message has no Records list", "NoRecords")
    if not records:
        raise _refuse("the Records list is empty", "NoRecords")
    if len(records) > MAX_RECORDS:
        raise _refuse(f"the message has more than {MAX_RECORDS} records", "TooManyRecords")
    created: list[ObjectCreated] = []
    ignored = 0
    for index, record in enumerate(records):
        parsed = _record(record, index)
        if parsed is None:
            ignored += 1
        else:
            created.append(parsed)
    return ObsNotification(created=tuple(created), ignored_records=ignored)


# --- reading -------------------------------------------------------------------------------------------


def _refuse(reason: str, code: str) -> InvalidRequestError:
    return InvalidRequestError(f"OBS notification refused: {reason}", code=code)


def _named(value: str) -> str:
    """A value of the message quoted in a refusal: printable, one line, cut short."""
    text = "".join(char if char.isprintable() else "?" for char in value)
    return repr(text if len(text) <= MAX_NAMED_CHARS else text[: MAX_NAMED_CHARS - 1] + "\u2026")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two "key" members would be read one way here and maybe another way elsewhere.
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _refuse(f"the member {_named(name)} appears twice in one object", "DuplicateMember")
        result[name] = value
    return result


def _no_constant(name: str) -> NoReturn:
    raise _refuse(f"{name} is not a JSON number", "NotJson")


def _json_object(message: str) -> Any:
    if len(message) > MAX_MESSAGE_CHARS:
        raise _refuse(f"the message exceeds {MAX_MESSAGE_CHARS} characters", "TooLarge")
    try:
        return json.loads(message, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise _refuse("the message is not JSON", "NotJson") from None


def _record(record: object, index: int) -> ObjectCreated | None:
    """The object a record reports created; None for a documented event of another kind."""
    where = f"record {index}"
    if not isinstance(record, Mapping):
        raise _refuse(f"{where} is not a JSON object", "MalformedRecord")
    forms = [form for form in RECORD_FORMS if form in record]
    if len(forms) != 1:
        raise _refuse(f"{where} must hold exactly one of the blocks 's3' or 'obs'", "MalformedRecord")
    form = forms[0]
    source, region_field = RECORD_FORMS[form]
    if record.get("eventSource") != source:
        raise _refuse(f"{where}: an {form!r} block comes with eventSource {source!r}", "MalformedRecord")
    event_name = _event_name(record.get("eventName"), where)
    block = _mapping(record[form], f"{where}.{form}")
    bucket = _bucket(_mapping(block.get("bucket"), f"{where}.{form}.bucket"), where)
    obj = _mapping(block.get("object"), f"{where}.{form}.object")
    key = _key(obj.get("key"), where)
    size = _size(obj.get("size"), where)
    etag = _optional_text(obj.get("eTag"), f"{where}: eTag")
    sequencer = _optional_text(obj.get("sequencer"), f"{where}: sequencer")
    event_time = _event_time(record.get("eventTime"), where)
    region = _optional_text(record.get(region_field), f"{where}: {region_field}")
    if event_name in REMOVED_EVENTS:
        return None
    return ObjectCreated(
        bucket=bucket,
        key=key,
        event_name=event_name,
        size=size,
        etag=etag,
        event_time=event_time,
        region=region,
        sequencer=sequencer,
    )


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _refuse(f"{where} is missing or not a JSON object", "MalformedRecord")
    return value


def _event_name(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _refuse(f"{where} has no eventName", "UnknownEvent")
    name = value.removeprefix(EVENT_NAME_PREFIX)
    if name not in CREATED_EVENTS and name not in REMOVED_EVENTS:
        raise _refuse(f"{where}: eventName {_named(value)} is not a documented OBS event", "UnknownEvent")
    return name


def _bucket(bucket: Mapping[str, Any], where: str) -> str:
    name = bucket.get("name")
    if not isinstance(name, str) or not name:
        raise _refuse(f"{where} has no bucket name", "MissingBucket")
    # The obs block repeats the name as ``bucket.bucket`` (empty in the documented example).
    repeated = bucket.get("bucket")
    if repeated not in (None, "", name):
        raise _refuse(f"{where}: bucket.name and bucket.bucket differ", "MalformedRecord")
    try:
        return check_bucket_name(name)
    except InvalidRequestError as error:
        raise _refuse(f"{where}: {error.message}", "InvalidBucketName") from None


def _key(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _refuse(f"{where} has no object key", "MissingKey")
    if _BAD_PERCENT.search(value):
        raise _refuse(f"{where}: the object key has a '%' without two hex digits", "InvalidKey")
    try:
        key = unquote_plus(value, errors="strict")
    except UnicodeDecodeError:
        raise _refuse(f"{where}: the decoded object key is not UTF-8", "InvalidKey") from None
    if not key:
        raise _refuse(f"{where}: the object key is empty", "InvalidKey")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in key):
        raise _refuse(f"{where}: the object key holds a control character", "InvalidKey")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise _refuse(f"{where}: the object key is longer than {MAX_KEY_BYTES} bytes", "InvalidKey")
    return key


def _size(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _refuse(f"{where}: size is not a whole number of bytes", "MalformedRecord")
    return value


def _optional_text(value: object, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _refuse(f"{where} is not a string", "MalformedRecord")
    return value


def _event_time(value: object, where: str) -> datetime | None:
    text = _optional_text(value, f"{where}: eventTime")
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _refuse(f"{where}: eventTime {_named(text)} is not ISO 8601", "MalformedRecord") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
