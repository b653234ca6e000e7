"""The fleet benchmark's largest states (``benchmarks/fleet.py``): the real models in the worst case
(every image failed with the longest error and reason, the most skipped images listed, the longest names),
serialized as Step Functions holds them (a piece of a result file is an escaped JSON string in the state),
and the result files a map run writes."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ims_export.fleet import items as fleet_items
from ims_export.fleet import results as fleet_results
from ims_export.fleet import selection as fleet
from ims_export.fleet import summary as fleet_summary
from ims_export.fleet import tally as fleet_tally

LONGEST_ERROR = "StepFunctions.ExecutionLimitExceededException"


def _size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode())


def _image_id(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-000000000000"


NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
FLEET_ARN = f"arn:aws:states:eu-central-1:123456789012:execution:{'s' * 74}-fleet:{'e' * 80}"
EXPORT_MACHINE = f"arn:aws:states:eu-central-1:123456789012:stateMachine:{'s' * 74}-export"


def _failed(n: int) -> fleet_items.ItemResult:
    return fleet_items.ItemResult(
        image_id=_image_id(n),
        status="FAILED",
        image_name="n" * fleet.MAX_NAME_CHARS,
        bucket_url=f"{'b' * 63}:{'o' * (fleet_items.MAX_BUCKET_URL_CHARS - 64)}",
        error=LONGEST_ERROR,
        reason="x" * fleet.MAX_REASON_CHARS,
    )


def _skipped(n: int) -> fleet.SkippedImage:
    return fleet.SkippedImage(
        image_id=_image_id(n),
        image_name="n" * fleet.MAX_NAME_CHARS,
        code="IMG.0160",
        reason="x" * fleet.MAX_SKIPPED_REASON_CHARS,
    )


def result_record(n: int) -> dict[str, Any]:
    """An execution record of a map run's result file, as AWS writes it, for a failed image."""
    item = {"image_id": _image_id(n), "file_format": "qcow2", "is_quick_export": False}
    given = {"image_id": _image_id(n), "order": item, "name": f"{_image_id(n)}-{'d' * 32}"}
    child = f"{FLEET_ARN.replace(':execution:', ':execution:', 1)}/ExportPage:{'c' * 36}"
    return {
        "ExecutionArn": child,
        "Input": json.dumps(given),
        "InputDetails": {"Included": True},
        "Name": "c" * 36,
        "Output": json.dumps(_failed(n).model_dump(mode="json", exclude_none=True)),
        "OutputDetails": {"Included": True},
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
        "StartDate": "2026-11-29T02:00:00.000Z",
        "StateMachineArn": FLEET_ARN.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
        "Status": "SUCCEEDED",
        "StopDate": "2026-11-29T02:10:00.000Z",
    }


def result_file_bytes(images: int) -> int:
    return images * (_size(result_record(0)) + 1) + 1


def pieces_for(images: int) -> int:
    """The pieces read for a fleet of ``images``, page by page (one result file per page)."""
    pages = math.ceil(images / fleet.PAGE_SIZE)
    sizes = [min(fleet.PAGE_SIZE, images - page * fleet.PAGE_SIZE) for page in range(pages)]
    return sum(math.ceil(result_file_bytes(size) / fleet_results.PIECE_BYTES) for size in sizes)


def _plan_page(images: int) -> dict[str, Any]:
    items = [
        fleet.FleetItem(image_id=_image_id(n), file_format="qcow2").model_dump(mode="json", exclude_none=True)
        for n in range(min(images, fleet.PAGE_SIZE))
    ]
    return {
        "items": items,
        "page": 0,
        "pages": math.ceil(images / fleet.PAGE_SIZE),
        "next_page": 1,
        "selected": images,
        "skipped": [_skipped(n).model_dump(mode="json") for n in range(fleet.MAX_LISTED_SKIPPED)],
        "skipped_count": images,
        "max_concurrency": fleet.MAX_CONCURRENCY,
        "considered": 2 * images,
        "selected_at": NOW.isoformat(),
    }


def _worst_tally(images: int) -> fleet_tally.ResultsTally:
    tally = fleet_tally.ResultsTally(page=0, bucket="b" * 63, carry=json.dumps(result_record(0)))
    tally.map_runs = [f"{FLEET_ARN}:{'m' * 36}"] * math.ceil(images / fleet.PAGE_SIZE)
    tally.files = [fleet_results.ResultFile(key=f"results/{'m' * 36}/SUCCEEDED_0.json", size=10**9)]
    tally.next = fleet_results.PieceRequest(bucket="b" * 63, key=tally.files[0].key, range="bytes=0-32767")
    for n in range(images):
        tally.add(_failed(n), listed_skipped_room=0)
    return tally


@dataclass(frozen=True)
class Sizes:
    selection_state: int  # after a page of the selection: the page's items, the listed skipped images
    reading_state: int  # while reading: plan, tally (lists full) and the piece as an escaped string
    summary_state: int  # the end: summary and notice
    child_state: int  # a map run child workflow after its export: the child's DescribeExecution
    result_file: int  # one page's result file (S3, no limit here)


def worst_sizes(images: int) -> Sizes:
    selection_input = {"trigger": "fleet", "name_prefix": "n" * 255, "tag": "k" * 128 + "=" + "v" * 255}
    page = _plan_page(images)
    selection_state = _size({**selection_input, "select_page": 0, "plan": page})
    plan = fleet_tally.PlanHeader.model_validate(page)
    tally = _worst_tally(images)
    piece = json.dumps([result_record(n) for n in range(40)])[: fleet_results.PIECE_BYTES]
    reading_state = _size(
        {
            "plan": plan.model_dump(mode="json"),
            "tally": tally.model_dump(mode="json", exclude_none=True),
            "map_run": {"MapRunArn": tally.map_runs[0], "ResultWriterDetails": {"Bucket": "b", "Key": "k"}},
            "piece": {"body": piece},
        }
    )
    summary = fleet_summary.summarize_tally(
        plan, tally, execution=FLEET_ARN, started_at=NOW, now=NOW, export_state_machine_arn=EXPORT_MACHINE
    )
    summary_state = _size({"summary": summary.model_dump(mode="json"), "notice": summary.notice()})
    outcome = {"status": "FAILED", "error": LONGEST_ERROR, "cause": "c" * 4000, "image_name": "n" * 255}
    described = {
        "Status": "FAILED",
        "Output": json.dumps(outcome),
        "ExecutionArn": "a" * 200,
        "Input": "i" * 300,
    }
    child_state = _size({"image_id": _image_id(0), "order": {}, "name": "x" * 80, "child": described})
    return Sizes(
        selection_state, reading_state, summary_state, child_state, result_file_bytes(fleet.PAGE_SIZE)
    )
