"""`make deploy` and `make delete` as a new user meets them: the region is asked for, or named."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.localrun.conftest import ROOT
from tests.workflow.test_parameter_overrides import sam_reads

pytestmark = pytest.mark.slow


def _make(target: str, home: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    # No AWS_* (nothing names a region) and no MAKE* (run by `make test`, make would say make[1]).
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "MAKE", "MFLAGS"))
    }
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
        r"^make: \*\*\* \[Makefile:\d+: (deploy|delete)\] Error 2$", completed.stderr, re.MULTILINE
    )
    assert "sam build" not in completed.stdout + completed.stderr  # nothing was built


def test_a_region_given_reaches_sam_deploy(tmp_path: Path) -> None:
    completed = _make("deploy", tmp_path, "REGION=eu-central-1", "PARAMS=ExportBucket=my-bucket", "-n")

    assert completed.returncode == 0, completed.stderr
    # make -n: what would run, nothing ran; in one shell, the build first, then the deploy.
    [line] = [line for line in completed.stdout.splitlines() if "sam deploy" in line]
    assert "sam build" in line
    assert line.index("sam build") < line.index("sam deploy")
    assert "&& .tools/sam/bin/sam deploy" in line  # no deploy after a failed build


def test_params_reach_sam_deploy_whole_and_sam_splits_them_as_the_docs_say(tmp_path: Path) -> None:
    # JSON with spaces: the shell must not split it; SAM's own "..." quoting keeps each value whole.
    params = (
        'ExportBucket=my-bucket Settings="{\\"POLL_MAX_SECONDS\\": 900}" '
        'FleetScheduleExpression="cron(0 2 ? * SUN *)"'
    )
    planned = _make("deploy", tmp_path, "REGION=eu-central-1", f"PARAMS={params}", "-n")
    [deploy] = [line for line in planned.stdout.splitlines() if "sam deploy" in line]
    recorder = tmp_path / "sam"
    recorder.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n', encoding="utf-8")
    recorder.chmod(0o755)

    ran = subprocess.run(  # noqa: S603 - the deploy recipe's own line, with a recorder for sam
        ["bash", "-c", deploy.replace(".tools/sam/bin/sam", str(recorder))],  # noqa: S607
        env={**os.environ, "DEPLOY_REGION_GIVEN": "eu-central-1", "DEPLOY_PARAMS": params},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    arguments = ran.stdout.splitlines()
    assert arguments[arguments.index("--parameter-overrides") + 1 :] == [params]
    assert sam_reads([params]) == {
        "ExportBucket": "my-bucket",
        "Settings": '{"POLL_MAX_SECONDS": 900}',
        "FleetScheduleExpression": "cron(0 2 ? * SUN *)",
    }
