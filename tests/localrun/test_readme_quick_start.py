"""Every ``make run`` line of the README's quick start, run as a person types it: it ends as its comment
says (``exit 2`` through make, else success), with one result document on stdout."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from tests.localrun.conftest import ROOT
from tests.localrun.test_cli import make
from tests.result_schema import assert_valid_result

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _quick_start_lines() -> list[str]:
    section = README[README.index("\n## Quick start\n") :]
    block = section[section.index("```bash\n") + len("```bash\n") :]
    return [line for line in block[: block.index("```")].splitlines() if line.startswith("make run")]


LINES = _quick_start_lines()


def test_the_quick_start_shows_samples_to_run() -> None:
    assert len(LINES) >= 5


@pytest.mark.parametrize("line", LINES, ids=[re.sub(r"\s+#.*", "", line) for line in LINES])
def test_each_quick_start_line_ends_as_its_comment_says(line: str, tmp_path: Path) -> None:
    command, _, comment = line.partition("#")
    words = shlex.split(command)
    assert words[:2] == ["make", "run"]

    completed = make(*words[1:], env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})

    expected = 2 if "exit 2" in comment else 0
    assert completed.returncode == expected, completed.stderr[-2000:]
    assert_valid_result(json.loads(completed.stdout))  # one document, whatever the ending
