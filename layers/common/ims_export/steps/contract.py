"""The values the export state machine's Choice states route on, each named once.

``Phase`` is the start step's answer (``$.phase``, routed by ``IsImageReady``; ``exporting`` is its
Default, the poll loop). ``Route`` is the state an export ends in (``$.route``, chosen by the outcome
step and routed by ``RouteOutcome``; ``ExportFailed`` is its Default). The job statuses ``EvaluateJob``
compares are IMS's (``domain.jobs.JobStatus``). ``tests/workflow/test_contract.py`` holds each list
against ``statemachine/export.asl.json``: a value nobody routes, or a route nobody names, fails there.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    EXPORTING = "exporting"
    WAITING_FOR_IMAGE = "waiting_for_image"
    DUPLICATE = "duplicate"
    NOTIFICATION_HANDLED = "notification_handled"
    CLAIMING = "claiming"
    WAITING_FOR_CLAIM = "waiting_for_claim"
    RECORDING = "recording"
    WAKING = "waking"


class Route(StrEnum):
    """The end state of each outcome: a Succeed state, or the Fail state named after the error."""

    EXPORT_SUCCEEDED = "ExportSucceeded"
    DUPLICATE_TRIGGER = "DuplicateTrigger"
    REQUEST_REFUSED = "RequestRefused"
    INVALID_REQUEST = "InvalidRequest"
    IMAGE_NOT_EXPORTABLE = "ImageNotExportable"
    IMAGE_NOT_READY = "ImageNotReady"
    EXPORT_JOB_FAILED = "ExportJobFailed"
    EXPORT_TIMED_OUT = "ExportTimedOut"
    EXPORT_OBJECT_MISSING = "ExportObjectMissing"
    WORKFLOW_FAILED = "WorkflowFailed"  # an error of Step Functions itself (States.*)
    EXPORT_FAILED = "ExportFailed"  # any other error
