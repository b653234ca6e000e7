"""Light checks of the artifact-size and cold-start benchmarks (no build, no subprocess timing)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from benchmarks import artifact_size, cold_start


def test_forbidden_packages_are_found_and_sizes_are_sorted(tmp_path: Path) -> None:
    site = tmp_path / "python"
    (site / "botocore").mkdir(parents=True)
    (site / "botocore" / "x.py").write_bytes(b"x" * 10)
    (site / "requests").mkdir()
    (site / "requests" / "y.py").write_bytes(b"y" * 100)
    (site / "s3transfer-0.1.dist-info").mkdir()
    assert artifact_size.forbidden_inside(site) == ["botocore", "s3transfer-0.1.dist-info"]
    assert artifact_size.package_sizes(site)[0] == ("requests", 100)
    assert artifact_size.report(tmp_path, {}) == 1


def test_fake_cloud_answers_ims_and_ssm() -> None:
    with cold_start.fake_cloud() as endpoint:
        with urllib.request.urlopen(f"{endpoint}/v2/cloudimages?id={cold_start.IMAGE_ID}") as reply:  # noqa: S310
            assert json.load(reply)["images"][0]["id"] == cold_start.IMAGE_ID
        request = urllib.request.Request(  # noqa: S310
            endpoint,
            data=json.dumps({"Name": cold_start.TOKEN_PARAMETER}).encode(),
            headers={"X-Amz-Target": "AmazonSSM.GetParameter"},
        )
        with urllib.request.urlopen(request) as reply:  # noqa: S310
            assert json.load(reply)["Parameter"]["Name"] == cold_start.TOKEN_PARAMETER


@pytest.mark.slow
def test_our_check_handler_runs_cold_in_a_fresh_interpreter(tmp_path: Path) -> None:
    with cold_start.fake_cloud() as endpoint:
        environment = cold_start.handler_environment(endpoint)
        start, check = cold_start.our_probes()
        started = cold_start.probe_once(start, cold_start.START_EVENT, environment, tmp_path)["result"]
        checked = cold_start.probe_once(check, started, environment, tmp_path)
    assert checked["result"]["job"]["job_id"] == cold_start.JOB_ID
    assert checked["import_ms"] > 0
