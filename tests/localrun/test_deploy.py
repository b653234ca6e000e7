"""`make deploy` and `make delete` as a new user meets them: the region is asked for, or named."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.localrun.conftest import ROOT

pytestmark = pytest.mark.slow


def _make(target: str, home: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment["HOME"] = str(home)  # no AWS profile: nothing names a region
    return subprocess.run(  # noqa: S603 - make, our own Makefile
        ["make", "--no-print-directory", target, *variables],  # noqa: S607
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,  # no terminal to ask at
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("target", ["deploy", "delete"])
def test_without_a_region_and_no_terminal_to_ask_at_it_is_refused_before_anything_runs(
    target: str, tmp_path: Path
) -> None:
    completed = _make(target, tmp_path)

    assert completed.returncode == 2
    assert "refused: no AWS region: give REGION=<region> (or set AWS_REGION" in completed.stderr
    assert re.search(
        r"^make: \*\*\* \[Makefile:\d+: (deploy-region|delete)\] Error 2$", completed.stderr, re.MULTILINE
    )
    assert "sam build" not in completed.stdout + completed.stderr  # nothing was built


def test_a_region_given_reaches_sam_deploy(tmp_path: Path) -> None:
    completed = _make("deploy", tmp_path, "REGION=eu-central-1", "PARAMS=ExportBucket=my-bucket", "-n")

    assert completed.returncode == 0, completed.stderr
    # make -n: what would run, nothing ran; the build first, then the deploy in the region given.
    lines = completed.stdout.splitlines()
    [build] = [number for number, line in enumerate(lines) if " build" in line and "sam" in line]
    [deploy] = [number for number, line in enumerate(lines) if "sam deploy" in line]
    assert build < deploy
