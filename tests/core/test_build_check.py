"""A sam build output that does not hold the sources it was built from is refused before anything is
deployed (``localdev/build_check.py``), and the Makefile's builds keep their build caches apart."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from localdev.build_check import main, stale_artifacts

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = """\
Resources:
  StartExportFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/start_export/
  CommonLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/common/
"""


def project(tmp_path: Path) -> tuple[Path, Path]:
    """A template, its sources, and a build of them as sam build lays it out."""
    (tmp_path / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    function = tmp_path / "functions" / "start_export"
    package = tmp_path / "layers" / "common" / "ims_export"
    for directory, files in (
        (function, {"app.py": "handler"}),
        (package, {"__init__.py": "", "a.py": "one"}),
    ):
        directory.mkdir(parents=True)
        for name, text in files.items():
            (directory / name).write_text(text, encoding="utf-8")
    build = tmp_path / ".aws-sam" / "build"
    shutil.copytree(function, build / "StartExportFunction")
    shutil.copytree(package, build / "CommonLayer" / "python" / "ims_export")
    return tmp_path / "template.yaml", build


def test_a_build_of_the_sources_as_they_are_passes(tmp_path: Path) -> None:
    template, build = project(tmp_path)
    (build / "CommonLayer" / "python" / "ims_export" / "__pycache__").mkdir()  # bytecode is no source
    assert stale_artifacts(build, template) == []
    assert main([str(build), str(template)]) == 0


def test_a_changed_added_or_removed_source_makes_the_build_stale(tmp_path: Path) -> None:
    template, build = project(tmp_path)
    package = tmp_path / "layers" / "common" / "ims_export"
    (package / "a.py").write_text("two", encoding="utf-8")
    (package / "b.py").write_text("new", encoding="utf-8")
    (build / "StartExportFunction" / "old.py").write_text("gone", encoding="utf-8")

    stale = stale_artifacts(build, template)

    layer = build / "CommonLayer" / "python" / "ims_export"
    assert stale == [
        f"StartExportFunction: old.py in {build / 'StartExportFunction'} has no source any more",
        f"CommonLayer (ims_export): a.py in {layer} differs from its source",
        f"CommonLayer (ims_export): b.py is missing from {layer}",
    ]
    assert main([str(build), str(template)]) == 1


def test_each_build_directory_of_the_makefile_has_a_parent_of_its_own() -> None:
    # SAM keeps a build's source hashes in build.toml beside its build directory: two builds under one
    # parent rewrite each other's, and a cached build then passes stale code off as current.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    variables = dict(re.findall(r"^([A-Z_]+) :?= (\S+)$", makefile, re.M))
    build_dirs = [".aws-sam/build"] + [
        variables.get(name.strip("$()"), name) for name in re.findall(r"--build-dir (\S+)", makefile)
    ]
    parents = [str(Path(directory).parent) for directory in build_dirs]
    assert len(set(parents)) == len(parents), build_dirs
    assert "$(BUILD_CHECK) $(FRESH_BUILD)" in makefile
    assert makefile.count("$(DEPLOY_BUILD)") == 3  # make build, make deploy, the benchmarks' build
