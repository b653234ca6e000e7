"""Every ``--parameter-overrides`` example of the documentation, read as SAM CLI reads it.

The shell's part is ``shlex``; SAM's part is SAM CLI's own option (its click type, run under the SAM
CLI's interpreter in ``.tools/sam``). Each value must then pass its template parameter's check, and the
JSON ones the models that read them: an example that the shell or SAM splits differently fails here.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ims_export.fleet.selection import FleetSelection
from ims_export.settings import SETTINGS_JSON_ENV, Settings
from localdev.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
DOCUMENTS = (
    "README.md",
    "samconfig.toml",
    "localdev/emulator/README.md",
    *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md")),
)
PARAMETERS: dict[str, Any] = load_template(ROOT / "template.yaml")["Parameters"]
OPTION = "--parameter-overrides"
SHELL_OPERATORS = {"&&", "||", ";", "|"}
# SAM CLI's own option on a command of its own: what `sam deploy` makes of the words it is given.
SAM_PARSE = """
import json, sys
import click
from samcli.commands._utils.options import parameter_override_click_option

@click.command()
@parameter_override_click_option()
def parse(parameter_overrides):
    json.dump(parameter_overrides, sys.stdout)

parse(sys.argv[1:])
"""


def override_examples(text: str) -> Iterator[list[str]]:
    """The words after each ``--parameter-overrides`` of ``text``, as the shell passes them."""
    joined = re.sub(r"\\\n\s*", " ", text)  # continued command lines
    for line in joined.splitlines():
        if OPTION not in line:
            continue
        before, command = line.split(OPTION, 1)
        if before.count("`") % 2:  # inside an inline code span: the example ends with it
            command = command.split("`", 1)[0]
        words: list[str] = []
        for word in shlex.split(command, comments=True):
            if word.startswith("--") or word in SHELL_OPERATORS:
                break
            words.append(word)
        if words:
            yield words


def params_examples(text: str) -> Iterator[list[str]]:
    """The value of each ``make deploy ... PARAMS=...`` of ``text``: one argument, which SAM splits."""
    for line in text.splitlines():
        if line.lstrip().startswith("make deploy") and "PARAMS=" in line:
            words = shlex.split(line.split("`", 1)[0] if line.count("`") % 2 else line, comments=True)
            yield [word.removeprefix("PARAMS=") for word in words if word.startswith("PARAMS=")]


EXAMPLES: dict[str, list[str]] = {
    f"{document}-{number}": words
    for document in DOCUMENTS
    for number, words in enumerate(override_examples((ROOT / document).read_text(encoding="utf-8")))
}
PARAMS_EXAMPLES: dict[str, list[str]] = {
    f"{document}-PARAMS-{number}": words
    for document in DOCUMENTS
    for number, words in enumerate(params_examples((ROOT / document).read_text(encoding="utf-8")))
}


def sam_reads(words: list[str]) -> dict[str, str]:
    if not SAM_PYTHON.exists():
        pytest.fail(f"no SAM CLI at {SAM_PYTHON}: make test installs it (make {SAM_PYTHON.parents[1]})")
    completed = subprocess.run(  # noqa: S603 (the SAM CLI's interpreter, our own script)
        [str(SAM_PYTHON), "-c", SAM_PARSE, OPTION, *words],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    parsed: dict[str, str] = json.loads(completed.stdout)
    return parsed


def passes_the_parameter_check(name: str, value: str) -> bool:
    spec = PARAMETERS[name]
    if "AllowedValues" in spec and value not in spec["AllowedValues"]:
        return False
    return "AllowedPattern" not in spec or re.fullmatch(spec["AllowedPattern"], value) is not None


def test_the_documentation_shows_overrides_of_every_json_parameter() -> None:
    shown = {word.split("=", 1)[0] for words in EXAMPLES.values() for word in words}
    assert {"ExportBucket", "Settings", "FleetSelection"} <= shown


def test_the_documentation_shows_make_deploy_params() -> None:
    assert any("Settings=" in words[0] for words in PARAMS_EXAMPLES.values())


@pytest.mark.parametrize("words", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_sam_reads_each_example_as_written(words: list[str]) -> None:
    parsed = sam_reads(words)

    # Each word is one override, its value the text after the first "=" with SAM's quotes removed.
    assert list(parsed) == [word.split("=", 1)[0] for word in words]
    _each_passes_its_parameter(parsed)


@pytest.mark.parametrize("words", PARAMS_EXAMPLES.values(), ids=PARAMS_EXAMPLES.keys())
def test_sam_reads_each_make_deploy_params_example(words: list[str]) -> None:
    [params] = words  # the Makefile hands PARAMS to SAM as one argument, for SAM to split
    parsed = sam_reads([params])

    assert parsed
    assert len(parsed) == len(re.findall(r"(?:^| )[A-Za-z0-9]+=", re.sub(r'"(?:\\.|[^"\\])*"', '""', params)))
    _each_passes_its_parameter(parsed)


def _each_passes_its_parameter(parsed: dict[str, str]) -> None:
    for name, value in parsed.items():
        assert name in PARAMETERS
        assert passes_the_parameter_check(name, value), (name, value)
    if "Settings" in parsed:
        assert json.loads(parsed["Settings"])  # an object with at least one knob
        Settings.from_env({SETTINGS_JSON_ENV: parsed["Settings"]})  # every knob known and valid
    if "FleetSelection" in parsed:
        FleetSelection.model_validate_json(parsed["FleetSelection"])


def test_json_in_shell_quotes_only_is_what_sam_splits_apart() -> None:
    # The README's warning: without SAM's quotes, SAM takes the value up to the first '"'.
    assert sam_reads(['Settings={"POLL_MAX_SECONDS": 900}']) == {"Settings": "{"}
    assert not passes_the_parameter_check("Settings", "{")
