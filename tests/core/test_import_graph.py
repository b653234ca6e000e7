"""What importing each handler loads: the check step's cold start stays free of the start step's weight.

Each handler is imported in a fresh interpreter, as Lambda does, and its loaded modules are listed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app  # noqa: F401
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(function: str) -> set[str]:
    environment = {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_REGION": "eu-central-1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    completed = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE, str(ROOT / "layers" / "common"), str(ROOT / "functions" / function)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return set(json.loads(completed.stdout))


def _under(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


def test_the_check_step_loads_no_verifier_no_idempotency_store_no_fleet_and_no_obs() -> None:
    modules = loaded_by("check_export")

    assert "ims_export.steps.states" in modules  # the probe did import the handler
    assert _under(modules, "cryptography") == []
    assert _under(modules, "aws_lambda_powertools.utilities.idempotency") == []
    assert (
        _under(
            modules,
            "ims_export.smn",
            "ims_export.steps.export_guard",
            "ims_export.fleet",
            "ims_export.cloud.obs",
            "ims_export.auth.temporary_credentials",
        )
        == []
    )


@pytest.mark.parametrize("function", ["check_export", "start_export", "refresh_token", "select_images"])
def test_no_handler_loads_the_cloud_clients_before_its_first_call(function: str) -> None:
    # The IAM/IMS clients and the token cache are built on first use (runtime.build_clients), so an
    # invocation that refuses its input never pays for them.
    assert _under(loaded_by(function), "ims_export.cloud.ims", "ims_export.auth.cache") == []
