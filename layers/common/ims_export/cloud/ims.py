"""Client of the IMS calls an export needs: start the export, follow its job, look images up.

How a call travels (token, one retry on 401, typed errors) is ``ims_transport``'s; nothing else is
retried here: the state machine retries the retryable errors with backoff.

The job is read from either job API (``JobApi``): where one answers "API does not exist", the other is
used and remembered for the life of the process. A job answer that shows no job state is a
MalformedAnswerError (transient); an export answer without a readable job id is ExportStateUnknown.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from functools import partial

import requests
from pydantic import ValidationError

from ims_export.cloud.http import DEFAULT_CONNECT_RETRIES
from ims_export.cloud.ims_api import (
    MAX_PAGE_SIZE,
    PAGING_PARAMETERS,
    JobApi,
    check_image_id,
    check_job_id,
    default_job_api_order,
    export_job_id,
    job_percent,
    json_body,
    json_or_none,
    normalize_endpoint,
)
from ims_export.cloud.ims_errors import (
    answer_snippet,
    is_missing_api,
    parse_error_body,
)
from ims_export.cloud.ims_transport import ImsTransport
from ims_export.domain.export_request import ExportRequest
from ims_export.domain.images import Image
from ims_export.domain.jobs import Job, UndocumentedStatus, UnreadableJob, read_job
from ims_export.domain.tokens import TokenSource
from ims_export.errors import (
    ConfigurationError,
    ExportStateUnknown,
    ImageNotFoundError,
    InvalidRequestError,
    JobNotFoundError,
    MalformedAnswerError,
    UnexpectedResponseError,
    UnknownJobStatusError,
)
from ims_export.parsing import describe_validation_error
from ims_export.settings import Cloud

logger = logging.getLogger(__name__)


class ImsClient:
    """IMS over one ``requests.Session``; ``endpoint`` overrides the token catalog's IMS endpoint."""

    def __init__(
        self,
        tokens: TokenSource,
        session: requests.Session,
        timeout: tuple[float, float],
        endpoint: str | None = None,
        *,
        cloud: Cloud = Cloud.OTC,
        derived_endpoint: str | None = None,
        connect_retries: int = DEFAULT_CONNECT_RETRIES,
    ) -> None:
        """``derived_endpoint`` (from cloud and region) is used when neither ``endpoint`` nor the
        token's catalog names IMS."""
        self._transport = ImsTransport(
            tokens,
            session,
            timeout,
            endpoint=normalize_endpoint(endpoint) if endpoint else None,
            derived_endpoint=normalize_endpoint(derived_endpoint) if derived_endpoint else None,
            connect_retries=connect_retries,
        )
        self._job_api_order = default_job_api_order(cloud)
        # Job APIs that answered "API does not exist" in this process, and the one that last worked.
        self._absent_job_apis: set[JobApi] = set()
        self._working_job_api: JobApi | None = None
        # OTC does not offer the progress API: after its first 404 it is not asked again.
        self._progress_api_absent = False

    def __repr__(self) -> str:
        return f"ImsClient(endpoint={self._transport.endpoint!r})"

    # --- the calls -------------------------------------------------------------------------------

    def export_image(self, request: ExportRequest) -> str:
        """Start exporting ``request.image_id``; returns the IMS job id."""
        operation = f"export image {request.image_id}"
        response = self._transport.call(
            "POST",
            lambda _token: f"/v1/cloudimages/{request.image_id}/file",
            operation=operation,
            body=request.api_body(),
        )
        job_id = export_job_id(json_or_none(response))
        if job_id is None:
            target = request.bucket_url
            raise ExportStateUnknown(
                f"{operation} to {target}: IMS accepted the call (HTTP {response.status_code}) but its "
                f"answer holds no readable job id ({answer_snippet(response)}). An export may be running: "
                f"look for an export job of image {request.image_id} in the IMS console, or for {target} "
                "in OBS, before starting it again (a new start now would meet IMG.0148)",
                status=response.status_code,
            )
        return job_id

    def get_job(self, job_id: str) -> Job:
        """The job's state, from whichever job API this IMS offers.

        JobNotFoundError if IMS does not know the job; MalformedAnswerError (transient) for an answer
        that shows no job state; UnknownJobStatusError for an undocumented status.
        """
        check_job_id(job_id)
        operation = f"get job {job_id}"
        for api in self._job_apis_to_try():
            response = self._transport.call(
                "GET", partial(api.path, job_id=job_id), operation=operation, passthrough={404}
            )
            if is_missing_api(response):
                self._absent_job_apis.add(api)
                logger.warning("IMS job API %s does not exist here; trying the other one", api.value)
                continue
            if response.status_code == 404:
                code, _message = parse_error_body(response)
                raise JobNotFoundError(f"{operation}: IMS does not know this job", code=code, status=404)
            if self._working_job_api is not api:
                logger.info("IMS job API in use: %s", api.value)
                self._working_job_api = api
            return self._job_from_response(response, job_id, operation)
        self._absent_job_apis.clear()  # a later call may meet a repaired gateway
        raise ConfigurationError(
            f"{operation}: neither IMS job API exists at {self._transport.host_hint()}; check IMS_ENDPOINT. "
            "The export may still be running: check it in the IMS console"
        )

    def _job_apis_to_try(self) -> list[JobApi]:
        order = list(self._job_api_order)
        if self._working_job_api is not None:
            order.remove(self._working_job_api)
            order.insert(0, self._working_job_api)
        return [api for api in order if api not in self._absent_job_apis]

    def get_job_progress(self, job_id: str) -> float | None:
        """``process_percent`` from the progress API, or None where the API is absent or says nothing."""
        check_job_id(job_id)
        if self._progress_api_absent or JobApi.CLOUDIMAGES_JOB in self._absent_job_apis:
            return None
        if self._working_job_api is JobApi.CLOUDIMAGES_JOB:
            return None  # the job answer came from this very API, and it had no percent
        operation = f"get progress of job {job_id}"
        response = self._transport.call(
            "GET",
            lambda _token: f"/v1/cloudimages/job/{job_id}",
            operation=operation,
            passthrough={404},
        )
        if response.status_code == 404:
            self._progress_api_absent = True
            return None
        try:
            answer = json.loads(response.content)
        except ValueError:
            return None
        if not isinstance(answer, Mapping):
            return None
        return job_percent(answer.get("entities") or {})

    def get_image(self, image_id: str) -> Image:
        """The image with this id; ImageNotFoundError if the project has none."""
        check_image_id(image_id)
        operation = f"get image {image_id}"
        matches = [image for image in self._fetch_page({"id": image_id}, operation) if image.id == image_id]
        if not matches:
            raise ImageNotFoundError(f"{operation}: no such image in this project")
        return matches[0]

    def list_images(
        self,
        filters: Mapping[str, str],
        *,
        page_size: int = MAX_PAGE_SIZE,
        max_items: int | None = None,
    ) -> Iterator[Image]:
        """Images matching ``filters`` (``GET /v2/cloudimages`` query parameters), all pages.

        The arguments are checked now; pages are fetched lazily as the iterator is consumed.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequestError(
                f"page_size must be between 1 and {MAX_PAGE_SIZE}", code="InvalidPageSize"
            )
        if max_items is not None and max_items < 0:
            raise InvalidRequestError("max_items must not be negative", code="InvalidMaxItems")
        reserved = PAGING_PARAMETERS.intersection(filters)
        if reserved:
            raise InvalidRequestError(
                f"filters must not set {', '.join(sorted(reserved))}: the client pages itself",
                code="InvalidImageFilter",
            )
        for name, value in filters.items():
            if not name or not isinstance(value, str):
                raise InvalidRequestError(
                    "image filters must be non-empty names with string values", code="InvalidImageFilter"
                )
        return self._iterate_images(dict(filters), page_size, max_items)

    # --- paging ----------------------------------------------------------------------------------

    def _iterate_images(
        self, filters: dict[str, str], page_size: int, max_items: int | None
    ) -> Iterator[Image]:
        yielded = 0
        marker: str | None = None
        markers_seen: set[str] = set()
        while max_items is None or yielded < max_items:
            limit = page_size if max_items is None else min(page_size, max_items - yielded)
            params = {**filters, "limit": str(limit)}
            if marker is not None:
                params["marker"] = marker
            page = self._fetch_page(params, "list images")
            yield from page[:limit]
            yielded += min(len(page), limit)
            if len(page) < limit:
                return
            marker = page[limit - 1].id
            # A server that ignores the marker would otherwise be paged forever.
            if marker in markers_seen:
                raise UnexpectedResponseError("list images: IMS returned the same page twice")
            markers_seen.add(marker)

    def _fetch_page(self, params: Mapping[str, str], operation: str) -> list[Image]:
        response = self._transport.call(
            "GET", lambda _token: "/v2/cloudimages", operation=operation, params=params
        )
        answer = json_body(response, operation)
        items = answer.get("images") if isinstance(answer, Mapping) else None
        if not isinstance(items, list):
            raise UnexpectedResponseError(f"{operation}: IMS answered without an 'images' list")
        images = []
        for index, item in enumerate(items):
            try:
                images.append(Image.model_validate(item))
            except ValidationError as error:
                detail = describe_validation_error(error)
                raise UnexpectedResponseError(
                    f"{operation}: image {index} of the answer is malformed: {detail}"
                ) from None
        return images

    # --- jobs ------------------------------------------------------------------------------------

    def _job_from_response(self, response: requests.Response, job_id: str, operation: str) -> Job:
        def malformed(reason: str) -> MalformedAnswerError:
            snippet = answer_snippet(response, self._transport.token_secrets())
            return MalformedAnswerError(
                f"{operation}: IMS answered HTTP {response.status_code} {reason}: {snippet}",
                snippet=snippet,
                status=response.status_code,
            )

        try:
            answer = json.loads(response.content)
        except ValueError:
            raise malformed("with a body that is not JSON") from None
        try:
            job = read_job(answer)
        except UndocumentedStatus as error:
            # Never poll a status this code does not understand: it may never change to SUCCESS/FAIL.
            raise UnknownJobStatusError(
                f"{operation}: IMS reports the undocumented job status {error.status!r}; the export may "
                "still be running: check the job in the IMS console"
            ) from None
        except UnreadableJob as error:
            raise malformed(f"without a job state ({error})") from None
        if job.job_id.lower() != job_id.lower():
            raise malformed("about another job")
        return job
