"""The fault matrix's rows of IMS: its transport faults, the answers of other clouds and API generations,
unreadable job answers, gone APIs and failed jobs."""

from __future__ import annotations

import json
from typing import Any

from localdev.fault_matrix.cases import (
    HTTP_TIMEOUT_SECONDS,
    SLOW_ANSWER_SECONDS,
    FaultCase,
    Outcome,
    fail_exports,
    inject_fault,
    ok,
)
from localdev.runner.layout import DEFAULT_EVENT


def _event_image_id() -> str:
    return str(json.loads(DEFAULT_EVENT.read_text(encoding="utf-8"))["image_id"])


def _dialect_rows() -> list[FaultCase]:
    """Answers of other clouds and API generations: hints in other formats never end the tracking."""
    area = "IMS job dialect"
    variants: list[tuple[str, str, dict[str, Any]]] = [
        ("job_legacy_times", 'times as "04-Jun-2015 18:11:06:586"', {"time_format": "legacy"}),
        ("job_end_time_na", 'end_time "N/A" while the job runs', {"running_end_time": "N/A"}),
        ("job_end_time_empty", 'end_time "" while the job runs', {"running_end_time": ""}),
        ("job_percent_share", "process_percent on a 0-1 scale", {"percent_scale": "share"}),
        (
            "job_percent_text",
            'process_percent as text with a sign ("45.0%")',
            {"percent_as_text": "text_with_sign"},
        ),
        ("job_status_lower", 'status in lower case ("success")', {"status_case": "lower"}),
        (
            "job_camel_case",
            "camelCase fields (jobId, beginTime, processPercent), also in the export answer",
            {"camel_case": True},
        ),
        ("job_entities_list", "entities as a list of objects", {"entities_as_list": True}),
    ]
    return [FaultCase(key, area, fault, ok(), dialect=dialect) for key, fault, dialect in variants]


def _unreadable_rows() -> list[FaultCase]:
    """Job answers that show no job state: retried with backoff, counted, ended only when sustained."""
    area = "IMS job answer"
    rows = [
        FaultCase(
            f"job_{kind}_once",
            area,
            f"one job query answered 200 with {what}",
            ok(),
            inject_fault("job", kind),
            why="transient: counted in the state, next query after a backoff",
        )
        for kind, what in (
            ("html", "an HTML page"),
            ("empty", "an empty body"),
            ("empty_object", "{}"),
            ("job_id_only", "only job_id"),
        )
    ]
    return [
        *rows,
        FaultCase(
            "job_html_sustained",
            area,
            "every job query answered with an HTML page",
            Outcome("FAILED", "UnreadableJobAnswer", 1, 1),
            inject_fault("job", "html", times=50),
            why="after 30 min of unreadable answers; the failure says the export may run on and how to check",
        ),
        FaultCase(
            "job_undocumented_status",
            area,
            'a job query answered with the undocumented status "DONE"',
            Outcome("FAILED", "UnknownJobStatusError", 1, 1),
            inject_fault("job", "undocumented_status"),
            why="ends at once, quoting the status and saying the export may still run",
        ),
    ]


def _route_rows(route: str, area: str, what: str) -> list[FaultCase]:
    """The transport faults every IMS route must survive: the state machine retries each of them."""
    slug = "export" if route == "export" else "job"
    return [
        FaultCase(
            f"{slug}_429",
            area,
            f"HTTP 429 (APIG.0308) on {what}, twice",
            ok(),
            inject_fault(route, "throttled", 2),
        ),
        FaultCase(
            f"{slug}_img0060",
            area,
            f"IMG.0060 flow control on {what}, twice",
            ok(),
            inject_fault(route, "flow_control", 2),
        ),
        FaultCase(f"{slug}_500", area, f"HTTP 500 on {what}", ok(), inject_fault(route, "server_error")),
        FaultCase(f"{slug}_503", area, f"HTTP 503 on {what}", ok(), inject_fault(route, "unavailable")),
        FaultCase(
            f"{slug}_dropped",
            area,
            f"connection dropped before {what} is handled",
            ok(),
            inject_fault(route, "drop"),
        ),
    ]


def ims_rows() -> list[FaultCase]:
    """The IMS rows in the table's order: the export call, the job queries, their answers, the APIs."""
    image_id = _event_image_id()
    return [
        # --- IMS, the export call and the job queries ------------------------------------------------
        *_route_rows("export", "IMS export", "the export call"),
        FaultCase(
            "export_slow",
            "IMS export",
            f"export call stalls past the read timeout ({HTTP_TIMEOUT_SECONDS} s), never handled",
            ok(),
            inject_fault("export", "slow", delay_seconds=SLOW_ANSWER_SECONDS),
            why="the retry creates the job",
        ),
        FaultCase(
            "export_html_after_processing",
            "IMS export",
            "IMS starts the export but answers 200 with an HTML page",
            Outcome("FAILED", "ExportStateUnknown", 1, 1),
            inject_fault("export", "html_after_processing"),
            why="not retried into IMG.0148: the failure says an export may be running and how to check",
        ),
        FaultCase(
            "export_empty_object",
            "IMS export",
            "the export call answered 200 with {}",
            Outcome("FAILED", "ExportStateUnknown", 0, 1),
            inject_fault("export", "empty_object"),
            why="no job id: whether an export runs cannot be told, the failure says how to check",
        ),
        *_route_rows("job", "IMS job", "a job query"),
        FaultCase(
            "job_slow",
            "IMS job",
            f"job query stalls past the read timeout ({HTTP_TIMEOUT_SECONDS} s)",
            ok(),
            inject_fault("job", "slow", delay_seconds=SLOW_ANSWER_SECONDS),
        ),
        *_dialect_rows(),
        *_unreadable_rows(),
        FaultCase(
            "job_api_gone_otc",
            "IMS job API",
            "GET /v1/{project_id}/jobs/{job_id} answers 404 APIGW.0101 (CLOUD=otc)",
            ok(),
            dialect={"gone_job_apis": ["job"]},
            why="falls back to /v1/cloudimages/job/{job_id}, remembered",
        ),
        FaultCase(
            "job_api_gone_huawei",
            "IMS job API",
            "GET /v1/cloudimages/job/{job_id} answers 404 APIGW.0101 (CLOUD=huawei)",
            ok(),
            dialect={"gone_job_apis": ["job_progress"]},
            parameters={"Cloud": "huawei"},
            why="huawei asks the current API first, then falls back to the project jobs API",
        ),
        FaultCase(
            "job_fail",
            "IMS job",
            "the export job ends in FAIL",
            Outcome("FAILED", "ExportJobFailed", 1, 1),
            fail_exports(image_id),
        ),
    ]
