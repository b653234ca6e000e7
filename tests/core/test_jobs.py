"""The IMS job model: known statuses only, tolerant parsing of progress and times."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ims_export.domain.jobs import Job, JobStatus
from ims_export.errors import InvalidRequestError
from ims_export.parsing import parse_model
from tests import documented_examples

DOC_JOB = documented_examples.JOB_RESPONSE


def test_the_documented_job_response() -> None:
    job = Job.model_validate(DOC_JOB)
    assert job.status is JobStatus.SUCCESS
    assert job.entities.image_id == "1ab4df10-fe18-48b7-91c9-53695fcd9df5"
    assert job.begin_time is not None
    assert job.begin_time.utcoffset() is not None
    assert job.process_percent is None


@pytest.mark.parametrize(
    ("status", "finished"), [("INIT", False), ("RUNNING", False), ("SUCCESS", True), ("FAIL", True)]
)
def test_known_statuses(status: str, finished: bool) -> None:
    assert Job.model_validate({**DOC_JOB, "status": status}).status.finished is finished


@pytest.mark.parametrize("status", ["PENDING", "", None, 1])
def test_an_unknown_status_fails(status: Any) -> None:
    with pytest.raises(ValidationError):
        Job.model_validate({**DOC_JOB, "status": status})
    with pytest.raises(InvalidRequestError, match="status"):
        parse_model(Job, {**DOC_JOB, "status": status})


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (42.5, 42.5),
        (0, 0.0),
        ("63.25", 63.25),
        (" 7 ", 7.0),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_process_percent_parsing(percent: Any, expected: float | None) -> None:
    job = Job.model_validate({**DOC_JOB, "status": "RUNNING", "entities": {"process_percent": percent}})
    assert job.process_percent == expected


def test_a_non_numeric_process_percent_is_unknown() -> None:
    job = Job.model_validate({**DOC_JOB, "entities": {"process_percent": "half"}})
    assert job.process_percent is None


def test_null_or_missing_entities_are_empty() -> None:
    assert Job.model_validate({**DOC_JOB, "entities": None}).entities.image_id is None
    without = {key: value for key, value in DOC_JOB.items() if key != "entities"}
    assert Job.model_validate(without).entities.process_percent is None


def test_empty_times_are_none_and_extra_fields_are_kept() -> None:
    job = Job.model_validate({**DOC_JOB, "begin_time": "", "end_time": None, "sub_jobs": []})
    assert (job.begin_time, job.end_time) == (None, None)
    assert job.model_extra == {"sub_jobs": []}
