"""Real-cloud mode: the emulator started standalone, as if it were a remote cloud, reached only through
the OS_* variables (the IMS endpoint comes from the token's catalog)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.emulator import EmulatorConfig
from localdev.emulator.__main__ import READY_PREFIX

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def standalone_emulator() -> Iterator[str]:
    """The emulator as its own process, time running 200 times faster; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev.emulator", "--port", "0", "--speed", "200"],
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
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_manual_event_runs_against_a_cloud_named_by_os_variables(standalone_emulator: str) -> None:
    config = EmulatorConfig()
    environment = {
        "PATH": os.environ["PATH"],
        "OS_AUTH_URL": f"{standalone_emulator}/v3",
        "OS_USERNAME": config.user_name,
        "OS_PASSWORD": config.user_password,
        "OS_USER_DOMAIN_NAME": config.domain_name,
        "OS_PROJECT_NAME": config.project_name,
        # Waits are real in this mode: keep them short (the export takes about 50 emulated seconds).
        "POLL_MIN_SECONDS": "1",
        "POLL_MAX_SECONDS": "2",
    }

    completed = subprocess.run(
        [sys.executable, "-m", "localdev.run", "--event", "events/manual.json", "--timeout", "600"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert output["status"] == "SUCCEEDED"
    assert output["job_status"] == "SUCCESS"
    assert f"real cloud at {standalone_emulator}/v3" in completed.stderr
    assert "token cache: /ims-export/token in the local (moto) parameter store" in completed.stderr
    assert config.user_password not in completed.stdout + completed.stderr
    assert "MII" not in completed.stdout + completed.stderr  # no PKI token, whole or in part
