"""The IMS API's addresses and answers, apart from the client that calls it: the two job APIs, the ids it
accepts, and the readers of its answers (a JSON body, an export's job id, a job's progress)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from pydantic import ValidationError

from ims_export.domain.export_request import IMAGE_ID_PATTERN
from ims_export.domain.jobs import JobEntities
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import (
    ConfigurationError,
    InvalidRequestError,
    UnexpectedResponseError,
)
from ims_export.settings import Cloud

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
MAX_PAGE_SIZE = 500  # IMS's maximum and default ``limit``
# Job ids go into URL paths: only the characters IMS uses (hex today) are let through.
JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_IMAGE_ID = re.compile(IMAGE_ID_PATTERN)
# Catalog URLs may end in an API version; the paths below carry their own.
_VERSION_SUFFIX = re.compile(r"/v\d+(\.\d+)?$")
PAGING_PARAMETERS = frozenset({"marker", "limit"})
# The export answer's job id: documented ``job_id``, and the SDKs' camelCase spelling.
EXPORT_JOB_ID_FIELDS = ("job_id", "jobId")


class JobApi(StrEnum):
    """The two job APIs. Huawei Cloud deprecates PROJECT_JOBS for CLOUDIMAGES_JOB; OTC documents only
    PROJECT_JOBS."""

    PROJECT_JOBS = "/v1/{project_id}/jobs/{job_id}"
    CLOUDIMAGES_JOB = "/v1/cloudimages/job/{job_id}"

    def path(self, token: IssuedToken, job_id: str) -> str:
        return self.value.format(project_id=quote(token.project_id, safe=""), job_id=job_id)


def default_job_api_order(cloud: Cloud) -> tuple[JobApi, ...]:
    """Each cloud's current job API first."""
    if cloud is Cloud.HUAWEI:
        return (JobApi.CLOUDIMAGES_JOB, JobApi.PROJECT_JOBS)
    return (JobApi.PROJECT_JOBS, JobApi.CLOUDIMAGES_JOB)


def normalize_endpoint(url: str) -> str:
    """``https://host[/prefix]`` without a trailing slash or API version; ConfigurationError if malformed."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError("IMS endpoint must be an http(s) URL without query or fragment")
    return _VERSION_SUFFIX.sub("", f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/"))


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not JOB_ID_PATTERN.fullmatch(job_id):
        raise InvalidRequestError("job id must be 1-128 letters, digits, '-' or '_'", code="InvalidJobId")
    return job_id


def check_image_id(image_id: str) -> str:
    if not isinstance(image_id, str) or not _IMAGE_ID.fullmatch(image_id):
        raise InvalidRequestError("image id must be a UUID", code="InvalidImageId")
    return image_id


def json_body(response: requests.Response, operation: str) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        raise UnexpectedResponseError(
            f"{operation}: IMS answered HTTP {response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from None


def json_or_none(response: requests.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def export_job_id(answer: Any) -> str | None:
    if not isinstance(answer, Mapping):
        return None
    for name in EXPORT_JOB_ID_FIELDS:
        value = answer.get(name)
        if isinstance(value, str) and JOB_ID_PATTERN.fullmatch(value.strip()):
            return value.strip()
    return None


def job_percent(entities: Any) -> float | None:
    """A job's ``process_percent`` if readable; anything else is "unknown"."""
    try:
        return JobEntities.model_validate(entities).process_percent
    except ValidationError:
        return None
