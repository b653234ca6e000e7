"""Reading job answers of every documented variety: only status and job id decide, the rest are hints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ims_export.domain.jobs import (
    JobStatus,
    UndocumentedStatus,
    UnreadableJob,
    parse_job_time,
    parse_percent,
    read_job,
)
from tests import documented_examples

DOC_JOB = documented_examples.JOB_RESPONSE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-11-06T06:46:51.929Z", datetime(2024, 11, 6, 6, 46, 51, 929000, tzinfo=UTC)),
        ("04-Jun-2015 18:11:06:586", datetime(2015, 6, 4, 18, 11, 6, 586000, tzinfo=UTC)),
        ("04-Jun-2015 18:11:06", datetime(2015, 6, 4, 18, 11, 6, tzinfo=UTC)),
        ("2024-11-06 06:46:51", datetime(2024, 11, 6, 6, 46, 51, tzinfo=UTC)),
        (1730875611929, datetime(2024, 11, 6, 6, 46, 51, 929000, tzinfo=UTC)),
    ],
)
def test_every_documented_time_format_is_read(text: Any, expected: datetime) -> None:
    assert parse_job_time(text) == expected


@pytest.mark.parametrize("text", ["", "N/A", None, "yesterday", "null", [], {}, True, -5])
def test_placeholders_and_unreadable_times_are_unknown(text: Any) -> None:
    assert parse_job_time(text) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (45, 45.0),
        (45.5, 45.5),
        ("45", 45.0),
        ("45%", 45.0),
        (" 45 % ", 45.0),
        (0.24, 24.0),  # the old OTC example: a share
        ("0.24", 24.0),
        ("0.5%", 0.5),  # a sign makes it a percentage
        (0, 0.0),
        (100, 100.0),
    ],
)
def test_process_percent_in_either_scale(value: Any, expected: float) -> None:
    assert parse_percent(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["half", "", "nan", "inf", -1, 140, "140%", True, None, [50]])
def test_unreadable_process_percent_is_unknown(value: Any) -> None:
    assert parse_percent(value) is None


def test_camel_case_spellings_are_read() -> None:
    answer = {
        "jobId": "abc123",
        "status": "running",
        "jobType": "imsNativeExportImageJob",
        "beginTime": "04-Jun-2015 18:11:06:586",
        "endTime": "N/A",
        "errorCode": None,
        "failReason": "",
        "entities": {"imageId": "img", "processPercent": "45%", "currentTask": "copy"},
    }
    job = read_job(answer)
    assert (job.job_id, job.status, job.job_type) == ("abc123", JobStatus.RUNNING, "imsNativeExportImageJob")
    assert job.begin_time == datetime(2015, 6, 4, 18, 11, 6, 586000, tzinfo=UTC)
    assert (job.end_time, job.error_code, job.fail_reason) == (None, None, None)
    assert (job.entities.image_id, job.process_percent, job.entities.current_task) == ("img", 45.0, "copy")


@pytest.mark.parametrize(
    ("entities", "image_id"),
    [
        ([{"image_id": "first"}, {"image_id": "second", "process_percent": 0.5}], "first"),
        ("not entities", None),
        (None, None),
        (7, None),
        ([], None),
    ],
)
def test_entities_of_any_shape(entities: Any, image_id: str | None) -> None:
    job = read_job({**DOC_JOB, "entities": entities})
    assert job.status is JobStatus.SUCCESS
    assert job.entities.image_id == image_id


def test_a_list_of_entities_is_merged() -> None:
    job = read_job({**DOC_JOB, "entities": [{"image_id": "a"}, {"process_percent": "0.5"}]})
    assert (job.entities.image_id, job.process_percent) == ("a", 50.0)


@pytest.mark.parametrize("status", ["SUCCESS", "success", "Success", " success "])
def test_status_in_any_case(status: str) -> None:
    assert read_job({**DOC_JOB, "status": status}).status is JobStatus.SUCCESS


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"job_id": "abc"},
        {"status": "SUCCESS"},
        {**DOC_JOB, "status": None},
        {**DOC_JOB, "status": 1},
        {**DOC_JOB, "status": ""},
        {**DOC_JOB, "job_id": ""},
        ["SUCCESS"],
        "SUCCESS",
        None,
    ],
)
def test_an_answer_without_a_job_state_is_unreadable(answer: Any) -> None:
    with pytest.raises(UnreadableJob):
        read_job(answer)


@pytest.mark.parametrize("status", ["DONE", "PENDING", "failed"])
def test_an_undocumented_status_is_named(status: str) -> None:
    with pytest.raises(UndocumentedStatus) as raised:
        read_job({**DOC_JOB, "status": status})
    assert raised.value.status == status
