"""The outcome step: the outcome of the state an export ended in, with the claims to release first."""

from __future__ import annotations

from datetime import datetime

from ims_export.settings import Settings
from ims_export.steps.export_guard import export_claims
from ims_export.steps.outcome import build_outcome
from ims_export.steps.outcome_payloads import DescribedOutcome, OutcomeInput
from ims_export.steps.release import release_failed_export


def describe_ended_export(ended: OutcomeInput, *, now: datetime, settings: Settings) -> DescribedOutcome:
    described = build_outcome(ended, now=now, settings=settings)
    return release_failed_export(
        described, ended.state, export_claims(settings), execution=ended.execution_id
    )
