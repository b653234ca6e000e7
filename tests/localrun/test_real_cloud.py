"""Real-cloud mode: the emulator started standalone, as if it were a remote cloud, reached only through
the OS_* variables (the IMS endpoint comes from the token's catalog)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from localdev.emulator import EmulatorConfig
from tests.localrun.conftest import runner_process

pytestmark = pytest.mark.slow


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

    completed = runner_process("--event", "events/manual.json", "--timeout", "600", env=environment)

    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert output["status"] == "SUCCEEDED"
    assert output["job_status"] == "SUCCESS"
    assert f"real cloud at {standalone_emulator}/v3" in completed.stderr
    assert "token cache: /ims-export-local/token in the local (moto) parameter store" in completed.stderr
    assert config.user_password not in completed.stdout + completed.stderr
    assert "MII" not in completed.stdout + completed.stderr  # no PKI token, whole or in part


def test_a_cloud_named_by_os_cloud_comes_from_clouds_yaml_with_its_secure_yaml(
    standalone_emulator: str, tmp_path: Path
) -> None:
    config = EmulatorConfig()
    # OpenStack's search path: ~/.config/openstack/clouds.yaml, the password in secure.yaml beside it.
    openstack = tmp_path / ".config" / "openstack"
    openstack.mkdir(parents=True)
    entry = {
        "auth": {
            "auth_url": f"{standalone_emulator}/v3",
            "username": config.user_name,
            "user_domain_name": config.domain_name,
            "project_name": config.project_name,
        },
        "region_name": config.region,
    }
    (openstack / "clouds.yaml").write_text(yaml.safe_dump({"clouds": {"lab": entry}}), encoding="utf-8")
    secure = {"clouds": {"lab": {"auth": {"password": config.user_password}}}}
    (openstack / "secure.yaml").write_text(yaml.safe_dump(secure), encoding="utf-8")
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "OS_CLOUD": "lab",
        "POLL_MIN_SECONDS": "1",
        "POLL_MAX_SECONDS": "2",
    }

    completed = runner_process("--event", "events/manual.json", env=environment)

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["job_status"] == "SUCCESS"
    assert f"cloud 'lab' of {openstack / 'clouds.yaml'}" in completed.stderr
    assert config.user_password not in completed.stdout + completed.stderr
