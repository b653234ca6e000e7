"""The make variables of ``make run`` and ``make follow`` reach the runner as text: quotes, ``$``,
backticks and ``$(...)`` in a value are never shell (or make) syntax; a VERBOSE that is neither yes nor
no is refused with one line instead of being taken for no."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.localrun.conftest import ROOT
from tests.localrun.test_cli import MAKE_FAILED, assert_no_traceback, ending, make, runner_lines

pytestmark = pytest.mark.slow

INJECTED = "PWNED"  # what a value's shell command would print, were it run
FOLLOW_NEEDS_A_JOB = "refused: make follow needs JOB=<job id> (the id a run printed, or the console shows)"


def _environment(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home)}


def _assert_nothing_injected(completed: subprocess.CompletedProcess[str]) -> None:
    lines = runner_lines(completed)
    assert INJECTED not in lines, lines


@pytest.mark.parametrize(
    ("target", "variable", "message"),
    [
        (
            "run",
            f'EARLIER_EXPORTS=3"; echo {INJECTED} >&2; "',
            f"error: EARLIER_EXPORTS (argument --earlier-exports): '3\"; echo {INJECTED} >&2; \"' "
            "is not a whole number",
        ),
        (
            "run",
            f"TIMEOUT=$(echo {INJECTED})",
            f"error: TIMEOUT (argument --timeout): '$(echo {INJECTED})' is not a number",
        ),
        (
            "run",
            f"HEARTBEAT=`echo {INJECTED}`",
            f"error: HEARTBEAT (argument --heartbeat): '`echo {INJECTED}`' is not a number",
        ),
        (
            "follow",
            f"TIMEOUT=$$(echo {INJECTED} >&2)1",
            f"error: TIMEOUT (argument --timeout): '$$(echo {INJECTED} >&2)1' is not a number",
        ),
    ],
    ids=["earlier-exports-quote", "timeout-substitution", "heartbeat-backtick", "follow-timeout-dollars"],
)
def test_a_hostile_value_reaches_the_runner_as_text(
    target: str, variable: str, message: str, tmp_path: Path
) -> None:
    completed = make(
        target, *(["JOB=4a3b2c1d"] if target == "follow" else []), variable, env=_environment(tmp_path)
    )

    assert completed.returncode == MAKE_FAILED
    (line,) = runner_lines(completed)
    assert line.startswith(message), line
    ending(completed.stdout, "REFUSED")
    assert_no_traceback(completed)


def test_an_event_path_with_shell_and_make_syntax_is_read_as_the_file_it_names(tmp_path: Path) -> None:
    folder = tmp_path / "$HOME `echo PWNED` $(echo PWNED) \"q\" 'q' $$"
    folder.mkdir()
    event = folder / "manual $(shell echo X).json"
    shutil.copyfile(ROOT / "events" / "manual.json", event)

    completed = make("run", f"EVENT={event}", env=_environment(tmp_path))

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["status"] == "SUCCEEDED"
    _assert_nothing_injected(completed)
    assert_no_traceback(completed)


def test_a_hostile_job_id_is_not_run_by_the_shell(tmp_path: Path) -> None:
    completed = make(
        "follow",
        f"JOB=`echo {INJECTED} >&2`x",
        f"IMAGE=$$(echo {INJECTED} >&2)",
        f'BUCKET_URL=b:o"; echo {INJECTED} >&2; "',
        env=_environment(tmp_path),
    )

    assert completed.returncode == MAKE_FAILED
    (line,) = runner_lines(completed)
    assert line.startswith("refused: following a job needs the real cloud"), line
    _assert_nothing_injected(completed)
    assert_no_traceback(completed)


@pytest.mark.parametrize("value", ["1", "yes", "true", "on", "YES", "True", "0", "no", "false", "off", ""])
def test_verbose_yes_or_no_reaches_the_runner(value: str, tmp_path: Path) -> None:
    # Without JOB the runner refuses at once: the line shows that it ran, whatever VERBOSE said.
    completed = make("follow", f"VERBOSE={value}", env=_environment(tmp_path))

    assert completed.returncode == MAKE_FAILED
    assert runner_lines(completed) == [FOLLOW_NEEDS_A_JOB]


@pytest.mark.parametrize("target", ["run", "follow"])
@pytest.mark.parametrize("value", ["2", "maybe", "verbose", "$(echo 1)"])
def test_a_verbose_that_is_neither_yes_nor_no_is_refused_in_one_line(
    target: str, value: str, tmp_path: Path
) -> None:
    completed = make(target, f"VERBOSE={value}", env=_environment(tmp_path))

    assert completed.returncode == MAKE_FAILED
    (line,) = runner_lines(completed)
    assert line.startswith(
        f"error: VERBOSE (argument --verbose): {value!r}: give 1 (or yes, true, on) for the functions' "
        "log lines, or 0 (or no, false, off, nothing) for the runner's own lines only"
    )
    assert ending(completed.stdout, "REFUSED")["message"] == line


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("EVNT=events/export-failing.json", "EVENT"),
        ("RETENTON_COUNT=2", "RETENTION_COUNT"),
        ("VERBSE=1", "VERBOSE"),
        ("event=events/manual.json", "EVENT"),  # make variables are case-sensitive
        ("retention_cont=2", "RETENTION_COUNT"),
    ],
)
def test_a_mistyped_variable_is_refused_naming_the_one_meant(
    variable: str, meant: str, tmp_path: Path
) -> None:
    completed = make("run", variable, env=_environment(tmp_path))

    assert completed.returncode == MAKE_FAILED
    name = variable.split("=", 1)[0]
    assert (
        f"refused: make variable {name} is not one this project reads: did you mean {meant}?"
        in completed.stderr
    )
    assert completed.stdout == ""  # nothing ran: make stops before any recipe
    assert "execution arn:" not in completed.stderr


def test_every_variable_a_run_reads_is_accepted(tmp_path: Path) -> None:
    from localdev.make_variables import known_names

    known = known_names(["EVENT"])
    assert {
        "RETENTION_COUNT",
        "PREFLIGHT_TARGET",
        "EXPORT_BUCKET",
        "SMN_ALLOWED_TOPIC_URNS",
        "EVENT",
    } <= known


def test_a_make_function_in_a_value_is_text_not_run(tmp_path: Path) -> None:
    # make exports command-line variables to every recipe, expanding them unless they hold their text.
    created = tmp_path / "created-by-make"
    completed = make("run", f"EVENT=$(shell touch {created})", env=_environment(tmp_path))

    assert not created.exists()
    assert completed.returncode == MAKE_FAILED
    assert f"refused: cannot read event file $(shell touch {created})" in completed.stderr


def test_a_variable_name_is_never_run_by_the_shell(tmp_path: Path) -> None:
    created = tmp_path / "created-by-a-name"
    completed = make("help", f"EVENT;touch$${{IFS}}{created};true=1", env=_environment(tmp_path))

    assert not created.exists()
    assert completed.returncode == MAKE_FAILED
    assert "is not one this project reads" in completed.stderr


@pytest.mark.parametrize(
    "variable", ["EXPORT_BUCKET=my-bucket", "RETENTION_COUNT=2", "EVENT=events/manual.json"]
)
def test_a_variable_only_make_run_reads_is_refused_for_a_deploy(variable: str, tmp_path: Path) -> None:
    completed = make("deploy", "REGION=eu-central-1", variable, "-n", env=_environment(tmp_path))

    assert completed.returncode == MAKE_FAILED
    name = variable.split("=", 1)[0]
    assert f"refused: make variable {name} is read by make run, not by a deploy" in completed.stderr
    assert "sam" not in completed.stdout
