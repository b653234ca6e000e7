"""IMS: export an image, query its job (job API and progress API), list images.

Every call needs ``X-Auth-Token``: a token this emulator issued, not expired, not revoked, scoped to
the project the call is about; otherwise 401. The documentation gives no error code for an unknown
job: the emulator answers 404 with the IMS body and ``IMG.0404`` (its own choice).
"""

from __future__ import annotations

from localdev.emulator.listing import list_images
from localdev.emulator.replies import Reply, ims_error, unauthorized
from localdev.emulator.request import Request
from localdev.emulator.state import EmulatorState
from localdev.emulator.tokens import TokenRecord
from localdev.emulator.validation import check_bucket, check_exportable, parse_export_body

UNKNOWN_JOB_CODE = "IMG.0404"


def require_token(state: EmulatorState, request: Request, project_id: str | None = None) -> TokenRecord:
    token = request.header("X-Auth-Token")
    if not token:
        raise unauthorized("The request you have made requires authentication.")
    record = state.tokens.find(token)
    if record is None:
        raise unauthorized("The token is invalid.")
    problem = record.problem(state.now())
    if problem:
        raise unauthorized(problem)
    if record.project_id is None:
        raise unauthorized("A project-scoped token is required.")
    if project_id is not None and record.project_id != project_id:
        raise unauthorized("The token is not valid for this project.")
    return record


def require_project(state: EmulatorState, request: Request) -> str:
    """The project of the request's token (``require_token`` refuses tokens without one)."""
    return str(require_token(state, request).project_id)


def export_image(state: EmulatorState, request: Request, image_id: str) -> Reply:
    project_id = require_project(state, request)
    order = parse_export_body(request.json(ims_error("IMG.0001", "The request body must be JSON.")))
    with state.lock:
        now = state.settle()
        image = state.visible_image(image_id, project_id)
        if image is None:
            raise ims_error("IMG.0027", "The image does not exist.")
        parent = state.images.get(image.text("__originalimagename"))
        check_exportable(image, order, project_id, parent)
        check_bucket(order, state.buckets, state.config.region)
        limit = state.config.max_running_exports
        if limit is not None and state.exports_in_progress(now) >= limit:
            raise ims_error(
                "IMG.0060",
                "The number of tasks exceeds the flow control limit. Please try again later.",
            )
        if state.export_in_progress(image.id, now):
            raise ims_error("IMG.0148", "The image is being exported. Please wait.")
        if order.object_name in state.buckets[order.bucket].objects:
            raise ims_error("IMG.0070", "The image file already exists in the OBS bucket or directory.")
        job = state.create_export_job(image, order, project_id, now)
    return Reply(200, state.dialect.export_answer(job.job_id))


def show_job(state: EmulatorState, request: Request, job_id: str, project_id: str | None = None) -> Reply:
    """``GET /v1/{project_id}/jobs/{job_id}``, or the progress API when ``project_id`` is None."""
    token_project = require_token(state, request, project_id).project_id
    with state.lock:
        now = state.settle()
        job = state.jobs.get(job_id)
        if job is None or job.project_id != token_project:
            raise ims_error(UNKNOWN_JOB_CODE, "The job does not exist.", status=404)
        dialect = state.dialect
        return Reply(200, dialect.job_answer(job.api_body(now, dialect.job_time)))


def show_images(state: EmulatorState, request: Request) -> Reply:
    project_id = require_project(state, request)
    with state.lock:
        state.settle()
        return Reply(200, {"images": list_images(state.visible_images(project_id), request.query)})
