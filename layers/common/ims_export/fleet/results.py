"""Fleet exports: reading back each image's result from a Distributed Map run's result files.

Each page of a fleet is exported by a Distributed Map run whose ``ResultWriter`` writes the child
workflows' results to S3, so that they never come back into the fleet's state (256 KB). The run's
``manifest.json`` lists the result files (``SUCCEEDED_<n>.json``, ``FAILED_<n>.json``, ...: JSON arrays
of execution records, each with ``Status``, ``Input`` and ``Output`` as JSON strings, ``Error`` and
``Cause`` when the child failed). The state machine reads them with ``aws-sdk:s3:getObject`` in ranges
of ``PIECE_BYTES`` (the function stays without an AWS SDK): ``split_records`` takes the records that
a piece completes and keeps the unfinished rest for the next one.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ims_export.errors import ImsExportError

# A piece travels in the state (as an escaped JSON string) next to the tally: 32 KB keeps both well
# within 256 KB (benchmarks/fleet.py measures the worst case).
PIECE_BYTES = 32 * 1024
# Result files by status, in the order they are read; PENDING lists children that never ran.
RESULT_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING")
_BETWEEN_RECORDS = " \t\r\n[,]"


class UnreadableResultsError(ImsExportError):
    """A map run's manifest that is not the documented JSON: the fleet cannot say how it went."""


class ResultFile(BaseModel):
    """A result file as the manifest lists it (``Key``, ``Size``); kept in the tally as ``key``, ``size``."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    key: str = Field(alias="Key")
    size: int = Field(alias="Size", ge=0)


class PieceRequest(BaseModel):
    """The next ``getObject`` of a result file: bucket, key and byte range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str
    key: str
    range: str


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    bucket: str
    map_run_arn: str
    files: list[ResultFile]


def parse_manifest(text: str) -> Manifest:
    """The result files a map run's ``manifest.json`` lists, every status."""
    try:
        document = json.loads(text)
        files = [
            ResultFile.model_validate(entry)
            for status in RESULT_STATUSES
            for entry in (document.get("ResultFiles") or {}).get(status) or []
        ]
        return Manifest(
            bucket=str(document["DestinationBucket"]), map_run_arn=str(document["MapRunArn"]), files=files
        )
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as error:
        raise UnreadableResultsError(f"the map run's result manifest is not readable: {error}") from None


def piece_range(offset: int, size: int) -> str:
    return f"bytes={offset}-{min(offset + PIECE_BYTES, size) - 1}"


def split_records(text: str) -> tuple[list[dict[str, Any]], str]:
    """The records of a JSON array that ``text`` (a piece of it) holds whole, and the unfinished rest.

    Records are objects: one cut short does not parse, so it is carried to the next piece."""
    decoder = json.JSONDecoder()
    records: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index] in _BETWEEN_RECORDS:
            index += 1
        if index >= len(text):
            return records, ""
        try:
            record, end = decoder.raw_decode(text, index)
        except ValueError:
            return records, text[index:]
        if isinstance(record, dict):
            records.append(record)
        index = end


def json_or_none(text: Any) -> Any:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
