"""localdev/emulator/README.md "Point make run at it", run as written against a standalone emulator:
with exactly the variables it sets (its port swapped for the emulator's), every call stays on loopback
and the exported object is verified at the emulator's OBS."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from tests.localrun.conftest import ROOT, emulator_process
from tests.localrun.test_cli import MAKE_FAILED, assert_no_traceback, make

pytestmark = pytest.mark.slow

SECTION = "## Point `make run` at it"
DOCUMENTED_PORT = "8774"


def _section() -> str:
    text = (ROOT / "localdev" / "emulator" / "README.md").read_text(encoding="utf-8")
    after = text[text.index(SECTION) + len(SECTION) :]
    return after.split("\n## ", 1)[0]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", _section(), flags=re.DOTALL)


def _shell_lines(block: str) -> list[list[str]]:
    return [shlex.split(line, comments=True) for line in re.sub(r"\\\n\s*", " ", block).splitlines()]


def _exports(block: str) -> dict[str, str]:
    return dict(
        word.split("=", 1) for words in _shell_lines(block) if words[:1] == ["export"] for word in words[1:]
    )


def _on_port(values: dict[str, str], url: str) -> dict[str, str]:
    port = url.rsplit(":", 1)[1]
    return {name: value.replace(f":{DOCUMENTED_PORT}", f":{port}") for name, value in values.items()}


def _assert_verified_on_loopback(completed_stdout: str, completed_stderr: str, url: str) -> None:
    exported = json.loads(completed_stdout)["object"]
    assert exported["verification"] == "verified", exported
    assert exported["url"].startswith(f"{url}/ims-export-demo/"), exported
    assert "t-systems.com" not in completed_stderr


def test_the_os_variables_of_the_readme_keep_a_run_on_the_emulator(tmp_path: Path) -> None:
    [block] = _blocks("bash")
    runs = [words[1:] for words in _shell_lines(block) if words[:2] == ["make", "run"]]
    assert runs == [["run"], ["run", "EVENT=events/export-failing.json"]]
    exports = _exports(block)
    # Checked before the run: a missing endpoint would send it off this machine.
    assert {"OS_AUTH_URL", "OBS_ENDPOINT"} <= set(exports)
    assert all(value.startswith("http://127.0.0.1:") for value in exports.values() if "://" in value)

    with emulator_process(speed=50) as url:
        environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **_on_port(exports, url)}
        succeeded, failed = (make(*run, env=environment) for run in runs)

    assert succeeded.returncode == 0, succeeded.stderr
    _assert_verified_on_loopback(succeeded.stdout, succeeded.stderr, url)
    assert failed.returncode == MAKE_FAILED, failed.stderr
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: run\] Error 1$", failed.stderr, re.MULTILINE)
    assert json.loads(failed.stdout)["error"] == "ExportJobFailed"
    assert_no_traceback(succeeded)
    assert_no_traceback(failed)


def test_the_clouds_yaml_entry_of_the_readme_with_its_obs_endpoint_stays_on_the_emulator(
    tmp_path: Path,
) -> None:
    [block] = _blocks("bash")
    [clouds] = _blocks("yaml")
    others = {name: value for name, value in _exports(block).items() if not name.startswith("OS_")}
    assert "OBS_ENDPOINT" in others

    with emulator_process(speed=50) as url:
        config = tmp_path / ".config" / "openstack" / "clouds.yaml"
        config.parent.mkdir(parents=True)
        config.write_text(
            clouds.replace(f":{DOCUMENTED_PORT}", f":{url.rsplit(':', 1)[1]}"), encoding="utf-8"
        )
        environment = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "OS_CLOUD": "emulator",
            **_on_port(others, url),
        }
        completed = make("run", env=environment)

    assert completed.returncode == 0, completed.stderr
    assert "cloud 'emulator' of " in completed.stderr
    _assert_verified_on_loopback(completed.stdout, completed.stderr, url)
    assert_no_traceback(completed)
