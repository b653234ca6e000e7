"""Suite-wide test settings: never reach AWS or the internet, whatever the developer's shell holds."""

from __future__ import annotations

import os

# Set before any test module imports boto3 or Powertools.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-central-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ims-export-tests",
        "POWERTOOLS_SERVICE_NAME": "ims-export",
    }
)
for proxy_variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(proxy_variable, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"

# Property tests get no per-example wall-clock deadline: a loaded machine must not fail them.
from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")


# --- the secrets collector --------------------------------------------------------------------------
# Every log record and every LocalWorkflow state payload of the run is kept and, at the end, searched
# for the password and every token: a find fails the run (under pytest-xdist, each worker hands its
# finds to the controller). See tests/faults/secrets_collector.py.

import logging  # noqa: E402 - the settings above must come first
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.faults.secrets_collector import Leak, SecretsCollector, leaks_as_dicts  # noqa: E402

SECRETS_COLLECTOR = pytest.StashKey[SecretsCollector]()
LEAKS = pytest.StashKey[list[dict[str, str]]]()
# Our own loggers log at every level while the suite runs, so that a secret in a debug line is seen too.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "DEBUG")
DEBUG_LOGGERS = ("ims_export", "localdev", "tests")


def _fixed_test_secrets() -> list[tuple[str, str]]:
    from localdev.emulator import EmulatorConfig
    from localdev.fault_matrix.cases import WRONG_PASSWORD
    from tests.auth.fakes import PASSWORD
    from tests.workflow.fakes import SECRET_TOKEN

    return [
        (EmulatorConfig().user_password, "emulator password"),
        (PASSWORD, "test password"),
        (WRONG_PASSWORD, "wrong test password"),
        (SECRET_TOKEN, "test token"),
    ]


def pytest_configure(config: pytest.Config) -> None:
    collector = SecretsCollector(current_test=lambda: os.environ.get("PYTEST_CURRENT_TEST", ""))
    collector.install(_fixed_test_secrets())
    config.stash[SECRETS_COLLECTOR] = collector
    config.stash[LEAKS] = []
    for name in DEBUG_LOGGERS:
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.DEBUG)


@pytest.fixture
def secrets_collector(pytestconfig: pytest.Config) -> SecretsCollector:
    """The run's collector: ``register(secret, label)`` makes a test's own secret one it must not leak."""
    return pytestconfig.stash[SECRETS_COLLECTOR]


def pytest_testnodedown(node: Any, error: Any) -> None:
    """(xdist controller) the finds of a worker that has finished."""
    node.config.stash[LEAKS].extend(node.workeroutput.get("leaked_secrets", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    collector = config.stash[SECRETS_COLLECTOR]
    collector.uninstall()
    leaks = config.stash[LEAKS]
    leaks.extend(leaks_as_dicts(collector.leaks()))
    if hasattr(config, "workeroutput"):  # an xdist worker: the controller reports and fails the run
        config.workeroutput["leaked_secrets"] = leaks
    elif leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    leaks = config.stash.get(LEAKS, [])
    if leaks and not hasattr(config, "workeroutput"):
        terminalreporter.section("secrets leaked into logs or state payloads", red=True, bold=True)
        for leak in leaks:
            terminalreporter.write_line(Leak(**leak).describe())
