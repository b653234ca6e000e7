"""Reading a map run's result files in pieces: records cut by a piece's end, every status, the tally."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ims_export.fleet import results
from ims_export.fleet.items import item_from_record
from ims_export.fleet.tally import FoldRequest, PlanHeader, ResultsTally, fold

IMAGE = "11111111-2222-4333-8444-555555555555"


def _record(n: int, status: str = "EXPORTED") -> dict[str, object]:
    output = {
        "image_id": f"{n:08x}-0000-4000-8000-000000000000",
        "status": status,
        "elapsed_seconds": 10.0 + n,
    }
    return {"ExecutionArn": f"arn:{n}", "Output": json.dumps(output), "Status": "SUCCEEDED"}


@pytest.mark.parametrize("piece_bytes", [7, 64, 333, 10_000])
def test_records_cut_anywhere_are_read_once_each(piece_bytes: int) -> None:
    records = [_record(n) for n in range(25)]
    text = json.dumps(records)
    seen: list[dict[str, object]] = []
    carry = ""
    for start in range(0, len(text), piece_bytes):
        found, carry = results.split_records(carry + text[start : start + piece_bytes])
        seen.extend(found)
    assert carry == ""
    assert seen == records


def test_a_failed_child_workflow_is_a_failed_image_named_by_its_input() -> None:
    record = {
        "Status": "FAILED",
        "Input": json.dumps({"image_id": IMAGE}),
        "Error": "States.Runtime",
        "Cause": "x",
    }
    item = item_from_record(record)
    assert (item.image_id, item.status, item.error) == (IMAGE, "FAILED", "States.Runtime")


def test_exported_objects_bytes_are_added_up_and_missing_object_is_tolerated() -> None:
    tally = ResultsTally()
    with_object = {
        "image_id": IMAGE,
        "status": "EXPORTED",
        "object": {"size_bytes": 1234, "url": "obs://b/o"},
    }
    tally.add(item_from_record({"Status": "SUCCEEDED", "Output": json.dumps(with_object)}))
    tally.add(item_from_record(_record(1)))
    assert (tally.exported_count, tally.exported_bytes) == (2, 1234)


def test_fold_reads_the_manifest_then_every_piece_and_moves_to_the_next_page() -> None:
    body = json.dumps([_record(n) for n in range(40)])
    manifest = {
        "DestinationBucket": "fleet",
        "MapRunArn": "arn:aws:states:eu-central-1:1:mapRun:f/ExportPage:1",
        "ResultFiles": {
            "FAILED": [],
            "PENDING": [],
            "SUCCEEDED": [{"Key": "results/1/SUCCEEDED_0.json", "Size": len(body)}],
        },
    }
    plan = PlanHeader(pages=2, selected=80, skipped=[], skipped_count=0, considered=80, max_concurrency=4)
    started = datetime(2026, 1, 1, tzinfo=UTC)
    tally = fold(
        FoldRequest(
            plan=plan, tally=ResultsTally(), piece=json.dumps(manifest), execution="e", started_at=started
        )
    )
    reads = 0
    while tally.next is not None:
        start, end = (int(part) for part in tally.next.range.removeprefix("bytes=").split("-"))
        piece = body.encode()[start : end + 1].decode()
        tally = fold(FoldRequest(plan=plan, tally=tally, piece=piece, execution="e", started_at=started))
        reads += 1
    assert reads == -(-len(body) // results.PIECE_BYTES)
    assert (tally.page, tally.exported_count, tally.seconds_count) == (1, 40, 40)
    assert tally.map_runs == [manifest["MapRunArn"]]


def test_an_unreadable_manifest_is_a_named_error() -> None:
    with pytest.raises(results.UnreadableResultsError):
        results.parse_manifest("<html>")
