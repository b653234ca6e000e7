"""Fixtures of the workflow tests: fake IMS, captured logs, and the real state machine on moto."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ims_export import runtime
from localdev.lambda_handlers import load_function_module, load_handler
from localdev.stepfunctions import LocalWorkflow
from tests.workflow.fakes import FakeIms, FakeTokens, make_clients, make_image

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "statemachine" / "export.asl.json"
BUS = "ims-export-outcomes"
TOPIC = "ims-export-notifications"
FUNCTIONS = {
    "StartExportFunction": ROOT / "functions" / "start_export" / "app.py",
    "CheckExportFunction": ROOT / "functions" / "check_export" / "app.py",
    "VerifyExportFunction": ROOT / "functions" / "verify_export" / "app.py",
    "RetireExportsFunction": ROOT / "functions" / "retire_exports" / "app.py",
    "HandOverFunction": ROOT / "functions" / "hand_over" / "app.py",
    "DescribeOutcomeFunction": ROOT / "functions" / "describe_outcome" / "app.py",
}


@pytest.fixture
def fake_ims() -> FakeIms:
    ims = FakeIms(tokens=FakeTokens())
    ims.add_image(make_image())
    return ims


@pytest.fixture
def clients(fake_ims: FakeIms) -> Iterator[runtime.Clients]:
    bundle = make_clients(fake_ims)
    with runtime.use_clients(bundle):
        yield bundle


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs() -> Iterator[LogCapture]:
    """Every log line of the handlers (Powertools JSON) and of the library, formatted as emitted."""
    powertools_logger = load_function_module(FUNCTIONS["StartExportFunction"]).logger
    capture = LogCapture()
    capture.setFormatter(powertools_logger.registered_formatter)
    targets = [logging.getLogger(), logging.getLogger(powertools_logger.service)]
    # A local run earlier in this process may have loaded the handlers at LogLevel WARNING.
    levels = [target.level for target in targets]
    for target in targets:
        target.setLevel(logging.DEBUG)
        target.addHandler(capture)
    yield capture
    for target, level in zip(targets, levels, strict=True):
        target.removeHandler(capture)
        target.setLevel(level)


WorkflowFactory = Callable[..., LocalWorkflow]


@pytest.fixture
def workflow_factory(clients: runtime.Clients) -> WorkflowFactory:
    """Build a LocalWorkflow of the real definition and handlers; keyword arguments override defaults."""

    def build(substitutions: dict[str, str] | None = None, **options: Any) -> LocalWorkflow:
        values = {
            "EventBusName": BUS,
            "NotificationTopicArn": LocalWorkflow.topic_arn(TOPIC),
        }
        values.update(substitutions or {})
        options.setdefault("event_buses", [BUS])
        options.setdefault("topics", [TOPIC])
        handlers = {name: load_handler(path) for name, path in FUNCTIONS.items()}
        return LocalWorkflow(DEFINITION, values, handlers=handlers, **options)

    return build


@pytest.fixture
def workflow(workflow_factory: WorkflowFactory) -> Iterator[LocalWorkflow]:
    with workflow_factory() as running:
        yield running
