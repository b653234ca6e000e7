"""The HTTP control API under ``/_emulator/``: the ``Control`` methods for a standalone emulator.

| Method and path                                  | Body (JSON)                                      |
|--------------------------------------------------|--------------------------------------------------|
| GET  /_emulator/health                           |                                                  |
| GET  /_emulator/counters                         |                                                  |
| POST /_emulator/counters/reset                   |                                                  |
| GET  /_emulator/clock                            |                                                  |
| POST /_emulator/clock/advance                    | {"seconds": 60}                                  |
| GET  /_emulator/faults                           |                                                  |
| POST /_emulator/faults                           | {"route", "kind", "times", "skip", ...} (1)      |
| DELETE /_emulator/faults                         |                                                  |
| GET  /_emulator/dialect                          |                                                  |
| POST /_emulator/dialect                          | {"time_format": "legacy", ...} (3)               |
| DELETE /_emulator/dialect                        |                                                  |
| POST /_emulator/tokens/revoke, /tokens/expire    | {"token": "..."} for one token, {} for all       |
| POST /_emulator/user                             | {"locked": true} and/or {"disabled": true}       |
| POST /_emulator/buckets                          | {"name", "region"}                               |
| GET  /_emulator/buckets/{name}                   |                                                  |
| POST /_emulator/buckets/{name}/objects           | {"name", "size_bytes"}                           |
| POST /_emulator/images                           | {"name", "size_gib", "status", ...} (2)          |
| POST /_emulator/images/generate                  | {"count": 100}                                   |
| GET  /_emulator/images/{id}                      |                                                  |
| POST /_emulator/images/{id}/export-failure       | {"error_code", "fail_reason", "at_fraction"}     |
| GET  /_emulator/jobs, /_emulator/jobs/{id}       |                                                  |
| GET  /_emulator/smn/messages                     | what SMN would have POSTed to subscriptions      |

(1) also "retry_after_seconds" and "delay_seconds"; see ``Control.inject``.
(2) also "image_id", "activate_after_seconds" and "fields" (record fields); see ``Control.add_image``.
(3) any fields of ``dialects.Dialect``; see ``Control.set_dialect``.

Answers are JSON; errors are 400 or 404 ``{"error": "..."}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from localdev.emulator.clock import iso_millis
from localdev.emulator.control import Control, ControlError
from localdev.emulator.model import ExportFailure
from localdev.emulator.obs_control import ACTIONS as OBS_ACTIONS
from localdev.emulator.replies import ApiError, Reply
from localdev.emulator.request import Request

PREFIX = "/_emulator"
Action = Callable[[Control, dict[str, Any], re.Match[str]], Any]


def _fail(status: int, message: str) -> ApiError:
    return ApiError(Reply(status, {"error": message}))


def _clock(control: Control, body: dict[str, Any], match: re.Match[str]) -> Any:
    now = control.now()
    return {"now": now, "iso": iso_millis(now), "manual": control.manual_clock}


def _advance(control: Control, body: dict[str, Any], match: re.Match[str]) -> Any:
    control.advance(float(body.get("seconds", 0)))
    return _clock(control, body, match)


def _inject(control: Control, body: dict[str, Any], match: re.Match[str]) -> Any:
    options = {
        key: body[key] for key in ("times", "retry_after_seconds", "delay_seconds", "skip") if key in body
    }
    control.inject(str(body.get("route")), str(body.get("kind")), **options)
    return {"pending": control.pending_faults()}


def _add_image(control: Control, body: dict[str, Any], match: re.Match[str]) -> Any:
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise ControlError("fields must be an object")
    image_id = control.add_image(
        str(body.get("name") or "added-image"),
        size_gib=float(body.get("size_gib", 4)),
        image_id=body.get("image_id"),
        status=str(body.get("status", "active")),
        activate_after_seconds=body.get("activate_after_seconds"),
        **fields,
    )
    return {"image_id": image_id}


def _export_failure(control: Control, body: dict[str, Any], match: re.Match[str]) -> Any:
    control.fail_exports_of(
        match["image_id"],
        str(body.get("error_code", ExportFailure.error_code)),
        str(body.get("fail_reason", ExportFailure.fail_reason)),
        body.get("at_fraction"),
    )
    return {"image_id": match["image_id"]}


def _bucket(control: Control, body: dict[str, Any], match: re.Match[str]) -> Any:
    return {"name": match["bucket"], "objects": control.bucket_objects(match["bucket"])}


def _put_object(control: Control, body: dict[str, Any], match: re.Match[str]) -> Any:
    control.put_object(match["bucket"], str(body["name"]), int(body.get("size_bytes", 0)))
    return _bucket(control, body, match)


ACTIONS: list[tuple[str, str, Action]] = [
    ("GET", r"/health", lambda c, b, m: {"status": "ok"}),
    ("GET", r"/counters", lambda c, b, m: c.counters()),
    ("POST", r"/counters/reset", lambda c, b, m: c.reset_counters()),
    ("GET", r"/clock", _clock),
    ("POST", r"/clock/advance", _advance),
    ("GET", r"/faults", lambda c, b, m: {"pending": c.pending_faults()}),
    ("POST", r"/faults", _inject),
    ("DELETE", r"/faults", lambda c, b, m: c.clear_faults()),
    ("GET", r"/dialect", lambda c, b, m: c.dialect()),
    ("POST", r"/dialect", lambda c, b, m: c.set_dialect(**b)),
    ("DELETE", r"/dialect", lambda c, b, m: c.reset_dialect()),
    ("POST", r"/tokens/revoke", lambda c, b, m: {"count": c.revoke_tokens(b.get("token"))}),
    ("POST", r"/tokens/expire", lambda c, b, m: {"count": c.expire_tokens(b.get("token"))}),
    ("POST", r"/user", lambda c, b, m: c.set_user(locked=b.get("locked"), disabled=b.get("disabled"))),
    (
        "POST",
        r"/buckets",
        lambda c, b, m: c.register_bucket(
            str(b["name"]), b.get("region"), str(b.get("storage_class") or "STANDARD")
        ),
    ),
    ("GET", r"/buckets/(?P<bucket>[^/]+)", _bucket),
    ("POST", r"/buckets/(?P<bucket>[^/]+)/objects", _put_object),
    ("POST", r"/images", _add_image),
    ("POST", r"/images/generate", lambda c, b, m: {"image_ids": c.generate_images(int(b.get("count", 1)))}),
    ("GET", r"/images/(?P<image_id>[^/]+)", lambda c, b, m: c.image(m["image_id"])),
    ("POST", r"/images/(?P<image_id>[^/]+)/export-failure", _export_failure),
    ("GET", r"/jobs", lambda c, b, m: {"jobs": c.jobs()}),
    ("GET", r"/jobs/(?P<job_id>[^/]+)", lambda c, b, m: c.job(m["job_id"])),
    ("GET", r"/smn/messages", lambda c, b, m: {"messages": c.smn_messages()}),
    *OBS_ACTIONS,  # /obs/...: see obs_control
]
_COMPILED = [(method, re.compile(PREFIX + pattern + "$"), action) for method, pattern, action in ACTIONS]


def handles(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def handle(control: Control, request: Request) -> Reply:
    body: Any = request.json(_fail(400, "the body must be JSON")) if request.body else {}
    if not isinstance(body, dict):
        raise _fail(400, "the body must be a JSON object")
    path_matched = False
    for method, pattern, action in _COMPILED:
        match = pattern.match(request.path)
        if match is None:
            continue
        path_matched = True
        if method != request.method:
            continue
        try:
            result = action(control, body, match)
        except KeyError as error:
            raise _fail(404, f"not found: {error}") from None
        except (ControlError, TypeError, ValueError) as error:
            raise _fail(400, str(error)) from None
        return Reply(200, result if result is not None else {"ok": True})
    raise _fail(405 if path_matched else 404, f"no control action {request.method} {request.path}")
