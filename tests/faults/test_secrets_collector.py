"""The secrets collector finds a planted secret in logs and state payloads, and fails the run."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from localdev.stepfunctions import Invocation
from tests.faults.secrets_collector import SecretsCollector

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "planted-Secret-0123456789abcdef"
TOKEN = "MII" + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-" * 4


def _record(message: str, *args: object, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("ims_export.test", logging.DEBUG, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_finds_a_secret_in_log_args_and_extras() -> None:
    collector = SecretsCollector()
    collector.register(PLANTED, "planted")
    logger = logging.getLogger("ims_export.test")

    collector.collect_record(logger, _record("password=%s", PLANTED))
    collector.collect_record(logger, _record("calling IAM", body={"password": PLANTED}))
    collector.collect_record(logger, _record("nothing to see"))

    leaks = collector.leaks()
    assert len(leaks) == 2
    assert all(leak.secret == "planted" and PLANTED not in leak.excerpt for leak in leaks)


def test_finds_a_truncated_token_and_never_repeats_it() -> None:
    collector = SecretsCollector()
    collector.register_token(TOKEN)

    collector.collect("somewhere", f"X-Auth-Token: {TOKEN[:120]} (truncated)")

    (leak,) = collector.leaks()
    assert leak.secret == "token #1"
    assert TOKEN[:48] not in leak.excerpt and TOKEN[48:120] not in leak.excerpt


def test_finds_a_secret_in_a_powertools_json_line() -> None:
    collector = SecretsCollector()
    collector.register(PLANTED, "planted")
    logger = Logger(service="ims-export-collector-test")
    logger.append_keys(credential=PLANTED)  # only the Powertools formatter knows appended keys
    record = logging.LogRecord(logger.name, logging.INFO, __file__, 1, "hello", None, None)

    collector.collect_record(logger._logger, record)

    assert [leak.secret for leak in collector.leaks()] == ["planted"]


class _FinishedWorkflow:
    def __init__(self, history: list[dict[str, Any]], invocations: list[Invocation]) -> None:
        self._history = history
        self.invocations = invocations

    def executions(self) -> list[dict[str, str]]:
        return [{"executionArn": "arn:execution"}]

    def history(self, arn: str) -> list[dict[str, Any]]:
        return self._history


def test_finds_a_secret_in_state_payloads() -> None:
    collector = SecretsCollector()
    collector.register(PLANTED, "planted")
    workflow = _FinishedWorkflow(
        [{"type": "TaskStateExited", "stateExitedEventDetails": {"output": f'{{"token": "{PLANTED}"}}'}}],
        [Invocation("StartExportFunction", {"event": {"x": PLANTED}})],
    )

    collector.collect_workflow(workflow)

    assert sorted(leak.source for leak in collector.leaks()) == [
        "history of execution arn:execution",
        "invocation of StartExportFunction",
    ]


def test_short_strings_are_not_secrets() -> None:
    collector = SecretsCollector()
    collector.register("abc", "too short")
    collector.collect("somewhere", "abcabc")

    assert collector.leaks() == []


def test_the_session_collector_knows_the_emulator_secrets(secrets_collector: SecretsCollector) -> None:
    from localdev.emulator import Emulator, EmulatorConfig
    from localdev.emulator.tokens import TokenRecord

    emulator = Emulator(EmulatorConfig(user_password="another-emulator-password"))
    emulator.state.tokens.add(TOKEN, TokenRecord("user", "project", 0.0, 1.0))

    assert secrets_collector.knows("another-emulator-password")
    assert secrets_collector.knows(TOKEN)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_planted_leak_fails_the_whole_run(workers: list[str]) -> None:
    probe = "tests/faults/leak_probe/test_planted_leak.py"
    environment = {**os.environ, "IMS_EXPORT_PLANTED_SECRET": PLANTED}
    environment.pop("PYTEST_XDIST_WORKER", None)

    run = subprocess.run(  # noqa: S603 - our own interpreter and test file
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, probe],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    output = run.stdout + run.stderr
    assert "1 passed" in output, output
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "planted secret found in log record of 'ims_export.probe'" in output
    assert "test_logs_a_registered_secret" in output
    assert PLANTED not in output
