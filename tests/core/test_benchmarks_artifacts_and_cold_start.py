"""Light checks of the artifact-size and cold-start benchmarks (no build, no subprocess timing)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from benchmarks import (
    _cold_report,
    _cold_world,
    _import_profile,
    artifact_size,
    cold_start,
    cold_start_versions,
)
from benchmarks import _lambda_mount as lambda_mount
from benchmarks._cold_probe import HANDLER_IMPORT_MARKER
from localdev.deployment import local_deployment


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
    with _cold_world.fake_cloud() as endpoint:
        with urllib.request.urlopen(f"{endpoint}/v2/cloudimages?id={_cold_world.IMAGE_ID}") as reply:  # noqa: S310
            assert json.load(reply)["images"][0]["id"] == _cold_world.IMAGE_ID
        request = urllib.request.Request(  # noqa: S310
            endpoint,
            data=json.dumps({"Name": _cold_world.TOKEN_PARAMETER}).encode(),
            headers={"X-Amz-Target": "AmazonSSM.GetParameter"},
        )
        with urllib.request.urlopen(request) as reply:  # noqa: S310
            assert json.load(reply)["Parameter"]["Name"] == _cold_world.TOKEN_PARAMETER


def _fake_distribution(site: Path, name: str, files: list[str]) -> None:
    dist_info = site / f"{name}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "RECORD").write_text("".join(f"{file},sha256=x,1\n" for file in files), encoding="utf-8")


def test_only_distributions_with_another_machines_extensions_need_host_builds(tmp_path: Path) -> None:
    _fake_distribution(
        tmp_path, "pydantic_core-2.50.5", ["pydantic_core/_core.cpython-313-aarch64-linux-gnu.so"]
    )
    _fake_distribution(tmp_path, "cryptography-50.0.2", ["cryptography/hazmat/bindings/_rust.abi3.so"])
    _fake_distribution(tmp_path, "requests-2.34.2", ["requests/__init__.py"])
    _fake_distribution(tmp_path, "wrapt-2.5.2", ["wrapt/_wrappers.cpython-313-x86_64-linux-gnu.so"])
    assert lambda_mount.foreign_distributions(tmp_path, machine="x86_64") == ["pydantic_core==2.50.5"]
    assert lambda_mount.foreign_distributions(tmp_path, machine="aarch64") == ["wrapt==2.5.2"]


def test_a_mount_without_bytecode_has_no_pyc_and_keeps_lambdas_path_order(tmp_path: Path) -> None:
    source = tmp_path / "layer" / "python" / "pkg"
    (source / "__pycache__").mkdir(parents=True)
    (source / "__init__.py").write_text("", encoding="utf-8")
    (source / "__pycache__" / "__init__.cpython-313.pyc").write_bytes(b"x")
    with_bytecode = lambda_mount.copy_tree(tmp_path / "layer", tmp_path / "a", bytecode=True)
    without = lambda_mount.copy_tree(tmp_path / "layer", tmp_path / "b", bytecode=False)
    assert lambda_mount.sources_without_bytecode(with_bytecode) == []
    assert lambda_mount.sources_without_bytecode(without) == [without / "python" / "pkg" / "__init__.py"]
    assert not list(without.rglob("*.pyc"))
    mount = lambda_mount.Mount(tmp_path / "task", without, tmp_path / "runtime")
    assert mount.sys_path[0] == str(tmp_path / "task")
    assert mount.sys_path[2:] == (str(without / "python"), str(tmp_path / "runtime"))


def test_lambdas_environment_has_the_task_root_handler_and_an_active_trace(tmp_path: Path) -> None:
    environment = lambda_mount.lambda_environment("bench-check", "app.lambda_handler", tmp_path)
    assert environment["LAMBDA_TASK_ROOT"] == str(tmp_path)
    assert environment["_HANDLER"] == "app.lambda_handler"
    assert environment["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert "Sampled=1" in environment["_X_AMZN_TRACE_ID"]
    assert "POWERTOOLS_TRACE_DISABLED" not in environment


# The variables the benchmark points at its loopback stand-ins (or at its own names).
REDIRECTED = {
    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
    "TOKEN_PARAMETER",
    "CREDENTIALS_PARAMETER",
    "IDEMPOTENCY_TABLE",
}


def test_the_functions_get_the_templates_environment_pointed_at_the_loopback_server() -> None:
    deployed = local_deployment(_cold_world.TEMPLATE).environment
    environment = _cold_world.application_environment("http://127.0.0.1:8123")

    # What the template sets and the benchmark does not redirect reaches the handlers as deployed.
    kept = {name: value for name, value in deployed.items() if name not in REDIRECTED}
    assert "PYDANTIC_DISABLE_PLUGINS" in kept
    assert {name: environment[name] for name in kept} == kept
    assert environment["IMS_ENDPOINT"] == "http://127.0.0.1:8123"
    assert environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] == "8123"


IMPORTTIME = f"""import time: self [us] | cumulative | imported package
import time:       100 |        100 | json
{HANDLER_IMPORT_MARKER}
import time:      1000 |       1000 |     botocore.client
import time:       500 |       1500 |   botocore
import time:      2000 |       3500 | aws_xray_sdk.core
import time:       300 |        300 |     botocore.auth
import time:       700 |       1000 |   boto3
import time:      4000 |       5000 | ims_export.auth.cache
"""


def test_importtime_is_read_after_the_marker_with_each_module_counted_once() -> None:
    lines = _import_profile.parse_importtime(IMPORTTIME)
    assert [line.module for line in lines if line.depth == 0] == [
        "aws_xray_sdk.core",
        "ims_export.auth.cache",
    ]
    assert _import_profile.heavy_imports(lines, threshold_ms=4.0) == [("ims_export.auth.cache", 5.0)]
    # botocore is counted where it is first imported (under the X-Ray SDK), its submodules with it ...
    assert _import_profile.import_cost(lines, "botocore") == pytest.approx(1.5 + 0.3)
    # ... and the X-Ray SDK's cost holds it; json came before the marker and is not the handler's.
    assert _import_profile.import_cost(lines, "aws_xray_sdk") == pytest.approx(3.5)
    assert _import_profile.import_cost(lines, "json") == 0


def _summary(name: str, bytecode: bool, total_ms: float) -> _cold_report.Summary:
    runs = [_cold_report.Run(import_ms=total_ms * 0.7, invoke_ms=total_ms * 0.3, peak_rss_mb=50.0)] * 3
    return _cold_report.Summary.of(name, bytecode, runs)


def test_the_benchmark_ends_with_the_ratio_lines_and_judges_the_targets() -> None:
    summaries = [
        _summary("ours: start", True, 200),
        _summary("ours: check", True, 150),
        _summary("vendor SDK: start", True, 500),
        _summary("vendor SDK: check", True, 400),
        _summary("ours: start", False, 500),
        _summary("ours: check", False, 300),
        _summary("vendor SDK: start", False, 1000),
        _summary("vendor SDK: check", False, 600),
    ]
    assert _cold_report.final_lines(summaries) == [
        "cold start (ours / vendor SDK, as deployed): start 0.40, check 0.38",
        "cold start (ours / vendor SDK, bytecode excluded from both): start 0.50, check 0.50",
    ]
    assert _cold_report.targets_met(summaries)
    slower = [*summaries[:7], _summary("vendor SDK: check", False, 450)]
    assert not _cold_report.targets_met(slower)


def test_spread_is_reported_beside_the_median() -> None:
    runs = [
        _cold_report.Run(import_ms=float(ms), invoke_ms=0.0, peak_rss_mb=40.0 + ms) for ms in range(1, 12)
    ]
    summary = _cold_report.Summary.of("ours: check", True, runs)
    assert (summary.total_min_ms, summary.total_p25_ms, summary.total_ms) == (1, 3.5, 6)
    assert (summary.total_p75_ms, summary.total_max_ms, summary.peak_rss_mb) == (8.5, 11, 46)


def test_the_version_comparison_reports_this_over_earlier_per_step(tmp_path: Path) -> None:
    this, earlier = tmp_path / "this", tmp_path / "earlier"
    variants = cold_start_versions.version_variants(this, earlier)
    assert [(variant.name, variant.function_dir) for variant in variants] == [
        ("this: start", this / "StartExportFunction"),
        ("this: check", this / "CheckExportFunction"),
        ("earlier: start", earlier / "StartExportFunction"),
        ("earlier: check", earlier / "CheckExportFunction"),
    ]
    summaries = [
        _summary("this: start", True, 300),
        _summary("this: check", True, 210),
        _summary("earlier: start", True, 330),
        _summary("earlier: check", True, 200),
    ]
    report = cold_start_versions.render(summaries)
    assert "start: this / earlier = 0.91 (total)" in report
    assert "check: this / earlier = 1.05 (total)" in report


def test_the_version_comparison_needs_an_earlier_sam_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cold_start_versions.main([str(tmp_path)]) == 2
    assert "EARLIER_SAM_BUILD_DIR" in capsys.readouterr().out


LAYER = lambda_mount.SAM_BUILD / "CommonLayer" / "python"
LAYER_SOURCES = Path(__file__).resolve().parents[2] / "layers" / "common"


def _built_before_its_sources() -> bool:
    """`make test` runs `sam build` before pytest; a build older than the layer's recipe or code says
    nothing about them."""
    newest = max(path.stat().st_mtime for path in [LAYER_SOURCES / "Makefile", *LAYER_SOURCES.rglob("*.py")])
    return LAYER.stat().st_mtime < newest


needs_built_layer = pytest.mark.skipif(
    not LAYER.is_dir() or _built_before_its_sources() or lambda_mount.runtime_python() is None,
    reason="needs fresh `sam build` output (make build) and python3.13",
)


@needs_built_layer
def test_the_built_layer_ships_unchecked_bytecode_for_the_runtime_for_every_module() -> None:
    assert lambda_mount.sources_without_bytecode(LAYER) == []
    python = lambda_mount.runtime_python()
    assert python is not None
    code = "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"
    magic = subprocess.run(  # noqa: S603 - the machine's python3.13
        [str(python), "-c", code], capture_output=True, text=True, check=True, timeout=600
    ).stdout
    for pyc in lambda_mount.bytecode_files(LAYER / "ims_export"):
        header = pyc.read_bytes()[:8]
        assert header[:4].hex() == magic
        assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source not checked
    assert not [entry for entry in LAYER.iterdir() if entry.name.split("-")[0] in ("boto3", "botocore")]


@needs_built_layer
def test_python313_imports_the_layers_bytecode_not_its_source(tmp_path: Path) -> None:
    layer = lambda_mount.copy_tree(LAYER / "ims_export", tmp_path / "ims_export", bytecode=True)
    # Were the source compiled at import, this line would fail it; the shipped bytecode is used instead.
    with (layer / "domain" / "polling.py").open("a", encoding="utf-8") as source:
        source.write("\nraise RuntimeError('compiled from source')\n")
    python = lambda_mount.runtime_python()
    assert python is not None
    completed = subprocess.run(  # noqa: S603 - the machine's python3.13
        [str(python), "-S", "-c", "import ims_export.domain.polling as p; print(p.__name__)"],
        env={"PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ims_export.domain.polling"


@pytest.mark.slow
@pytest.mark.skipif(
    cold_start.missing_prerequisites(lambda_mount.runtime_python()) != [], reason="needs make bench"
)
def test_our_check_handler_runs_cold_as_deployed(tmp_path: Path) -> None:
    python = lambda_mount.runtime_python()
    assert python is not None
    with _cold_world.fake_cloud() as endpoint, _cold_world.xray_daemon() as daemon:
        extra = {
            **_cold_world.application_environment(endpoint),
            **lambda_mount.xray_daemon_environment(daemon),
        }
        ours = cold_start.variants(tmp_path / "unused")[:2]
        probes = cold_start.mount_probes(ours, tmp_path, python, extra, modes=(True,))
        events = cold_start.check_events(probes, python, tmp_path)
        checked, _ = cold_start.probe_once(probes[1], events["ours"], python, tmp_path)
    assert checked["result"]["job"]["job_id"] == _cold_world.JOB_ID
    assert checked["import_ms"] > 0
    assert checked["peak_rss_mb"] > 0
