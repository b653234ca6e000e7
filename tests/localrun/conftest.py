"""Fixtures of the local-runner tests: the runner's CLI run in process against the built-in emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ims_export.settings import SETTINGS_JSON_ENV, TUNABLE
from localdev import run
from localdev.emulator import Control, EmulatorConfig
from localdev.emulator import iam as emulator_iam
from localdev.emulator import tokens as emulator_tokens
from localdev.emulator.__main__ import READY_PREFIX
from localdev.runner import command
from localdev.runner.parameters import PARAMETER_VARIABLES
from localdev.runner.targets import CloudTarget, emulated_cloud
from tests.result_schema import assert_valid_result

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted((ROOT / "events").glob("*.json"))
# Variables the runner reads; a developer's shell must not change what the tests see.
RUNNER_VARIABLES = ("OS_AUTH_URL", SETTINGS_JSON_ENV, *PARAMETER_VARIABLES, *sorted(TUNABLE))


@dataclass
class LocalRun:
    """One ``python -m localdev.run`` in this process: exit code, both streams, the emulator seen."""

    exit_code: int
    stdout: str
    stderr: str
    control: Control | None
    secrets: list[str] = field(default_factory=list)

    @property
    def output(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """The runner sets AWS and function variables process-wide (as a Lambda runtime would): undo that."""
    saved = dict(os.environ)
    saved_path = list(sys.path)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.path[:] = saved_path


@pytest.fixture
def local_run(
    restored_environ: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., LocalRun]:
    """``local_run(event_file, prepare=None, **environment)`` runs ``main`` with ``environment`` set
    (``prepare(control)`` first sets up the emulator) and returns what it printed and did."""
    for name in RUNNER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    seen: dict[str, Any] = {}
    issued_tokens: list[str] = []
    original_token = emulator_tokens.pki_token  # what the IAM emulator issues tokens with

    @contextmanager
    def observed_cloud(*args: Any, **kwargs: Any) -> Iterator[CloudTarget]:
        with emulated_cloud(*args, **kwargs) as target:
            seen["target"] = target
            if seen.get("prepare") and target.control is not None:
                seen["prepare"](target.control)
            yield target

    def recorded_token(*args: Any, **kwargs: Any) -> str:
        token = original_token(*args, **kwargs)
        issued_tokens.append(token)
        return token

    monkeypatch.setattr(command, "emulated_cloud", observed_cloud)
    monkeypatch.setattr(emulator_iam, "pki_token", recorded_token)

    def run_event(
        event_file: str | Path,
        prepare: Callable[[Control], object] | None = None,
        via: str = "direct",
        options: tuple[str, ...] = (),
        **environment: str,
    ) -> LocalRun:
        seen["prepare"] = prepare
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        exit_code = run.main(["--event", str(event_file), "--via", via, *options])
        captured = capsys.readouterr()
        assert_valid_result(json.loads(captured.out))  # one document, whatever the ending
        target: CloudTarget | None = seen.get("target")
        secrets = [*issued_tokens, *(target.secrets if target else ())]
        return LocalRun(exit_code, captured.out, captured.err, target.control if target else None, secrets)

    return run_event


@pytest.fixture
def event_file(tmp_path: Path) -> Callable[[Any], Path]:
    """Write an event document to a file and return its path."""

    def write(document: Any) -> Path:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    return write


def assert_no_secrets(result: LocalRun) -> None:
    assert result.secrets, "the run issued no token and knew no password: nothing was checked"
    for secret in result.secrets:
        assert secret not in result.stdout
        assert secret not in result.stderr
        # A prefix catches a token printed truncated.
        assert secret[:40] not in result.stdout + result.stderr


@contextmanager
def emulator_process(speed: float, *, manual_clock: bool = False) -> Iterator[str]:
    """The emulator as its own process, ``speed`` emulated seconds per real second (or, with
    ``manual_clock``, time standing still until the control API advances it); yields its URL."""
    clock = ["--manual-clock"] if manual_clock else ["--speed", str(speed)]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "localdev.emulator", "--port", "0", *clock],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith(READY_PREFIX), line
        yield line.removeprefix(READY_PREFIX)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def standalone_emulator() -> Iterator[str]:
    """The emulator as its own process, time running 200 times faster; yields its base URL."""
    with emulator_process(200) as url:
        yield url


def os_variables(emulator_url: str, home: Path) -> dict[str, str]:
    """The environment of a real-cloud run against a standalone emulator: only PATH, a HOME of its own
    (no developer's clouds.yaml) and the OS_* variables."""
    config = EmulatorConfig()
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "OS_AUTH_URL": f"{emulator_url}/v3",
        "OS_USERNAME": config.user_name,
        "OS_PASSWORD": config.user_password,
        "OS_USER_DOMAIN_NAME": config.domain_name,
        "OS_PROJECT_NAME": config.project_name,
    }


def runner_process(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m localdev.run`` as its own process (the hang guard is no budget)."""
    return subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "localdev.run", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
