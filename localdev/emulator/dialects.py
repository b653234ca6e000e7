"""Answer dialects: the variations real IAM/IMS deployments show (both clouds' IMS
API references, SDK models and provider code), switchable per emulator so that clients meet more
than the doc example.

``Dialect()`` is the documented example; every field changes one aspect of the answers:

- ``time_format``: ``"iso"`` (``2024-11-06T06:46:51.929Z``) or ``"legacy"`` (``04-Jun-2015 18:11:06:586``);
- ``running_end_time``: what ``end_time`` holds while a job runs: ``None``, ``""`` or ``"N/A"``;
- ``percent_scale``: ``"percent"`` (0-100) or ``"share"`` (0-1); ``percent_as_text``: ``"number"``,
  ``"text"`` (``"45.0"``) or ``"text_with_sign"`` (``"45.0%"``);
- ``status_case``: ``"upper"`` (documented) or ``"lower"``;
- ``camel_case``: ``jobId``, ``beginTime``, ``processPercent``, ... instead of snake case;
- ``entities_as_list``: ``entities`` as a list of one object;
- ``gone_job_apis``: job routes (``"job"``, ``"job_progress"``) answering the gateway's 404 APIGW.0101;
- ``catalog_image_entry``: False drops the ``image`` entry from the token catalog;
- ``token_lifetime_seconds``: token lifetime instead of the config's; ``iam_clock_offset_seconds``:
  IAM states ``issued_at``/``expires_at`` on a clock this far off (tokens still live their lifetime).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal

from localdev.emulator.clock import iso_millis
from localdev.emulator.faults import Route
from localdev.emulator.replies import Reply

TimeFormat = Literal["iso", "legacy"]
PercentScale = Literal["percent", "share"]
PercentText = Literal["number", "text", "text_with_sign"]
StatusCase = Literal["upper", "lower"]

CAMEL_CASE = {
    "job_id": "jobId",
    "job_type": "jobType",
    "begin_time": "beginTime",
    "end_time": "endTime",
    "error_code": "errorCode",
    "fail_reason": "failReason",
    "image_id": "imageId",
    "image_name": "imageName",
    "process_percent": "processPercent",
}
JOB_ROUTES = (Route.JOB, Route.JOB_PROGRESS)
MISSING_API_BODY = {
    "error_code": "APIGW.0101",
    "error_msg": "The API does not exist or has not been published in the environment",
}


def legacy_time(timestamp: float) -> str:
    """``04-Jun-2015 18:11:06:586``: day-month-year, a colon before the milliseconds."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%d-%b-%Y %H:%M:%S:") + f"{moment.microsecond // 1000:03d}"


@dataclass(frozen=True)
class Dialect:
    time_format: TimeFormat = "iso"
    running_end_time: str | None = None
    percent_scale: PercentScale = "percent"
    percent_as_text: PercentText = "number"
    status_case: StatusCase = "upper"
    camel_case: bool = False
    entities_as_list: bool = False
    gone_job_apis: tuple[str, ...] = ()
    catalog_image_entry: bool = True
    token_lifetime_seconds: float | None = None
    iam_clock_offset_seconds: float = 0.0

    def __post_init__(self) -> None:
        choices = {
            "time_format": ("iso", "legacy"),
            "percent_scale": ("percent", "share"),
            "percent_as_text": ("number", "text", "text_with_sign"),
            "status_case": ("upper", "lower"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")
        object.__setattr__(self, "gone_job_apis", tuple(str(Route(route)) for route in self.gone_job_apis))
        if any(route not in JOB_ROUTES for route in self.gone_job_apis):
            raise ValueError("gone_job_apis may name only 'job' and 'job_progress'")
        if self.token_lifetime_seconds is not None and self.token_lifetime_seconds <= 0:
            raise ValueError("token_lifetime_seconds must be positive")

    def changed(self, **changes: Any) -> Dialect:
        known = {field.name for field in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown dialect fields: {', '.join(sorted(unknown))}")
        if "gone_job_apis" in changes:
            changes["gone_job_apis"] = tuple(changes["gone_job_apis"] or ())
        return replace(self, **changes)

    def job_time(self, timestamp: float) -> str:
        return legacy_time(timestamp) if self.time_format == "legacy" else iso_millis(timestamp)

    def api_gone(self, route: Route) -> Reply | None:
        """The gateway's answer for a job route this dialect has removed; None if it exists."""
        if str(route) in self.gone_job_apis:
            return Reply(404, dict(MISSING_API_BODY))
        return None

    def _percent(self, percent: float) -> Any:
        value = round(percent / 100, 4) if self.percent_scale == "share" else percent
        if self.percent_as_text == "number":
            return value
        return f"{value}%" if self.percent_as_text == "text_with_sign" else str(value)

    def _names(self, body: dict[str, Any]) -> dict[str, Any]:
        return {CAMEL_CASE.get(key, key) if self.camel_case else key: value for key, value in body.items()}

    def job_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A documented job body (times already in this dialect's format) in this dialect."""
        answer = dict(body)
        if answer.get("end_time") is None and answer.get("status") in ("INIT", "RUNNING"):
            answer["end_time"] = self.running_end_time
        if self.status_case == "lower":
            answer["status"] = str(answer["status"]).lower()
        entities = dict(answer.get("entities") or {})
        if isinstance(entities.get("process_percent"), int | float):
            entities["process_percent"] = self._percent(float(entities["process_percent"]))
        named_entities = self._names(entities)
        answer["entities"] = [named_entities] if self.entities_as_list else named_entities
        return self._names(answer)

    def export_answer(self, job_id: str) -> dict[str, Any]:
        return self._names({"job_id": job_id})

    def token_time(self, timestamp: float) -> float:
        """A token time as IAM states it, on its (possibly skewed) clock."""
        return timestamp + self.iam_clock_offset_seconds

    def as_dict(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}
