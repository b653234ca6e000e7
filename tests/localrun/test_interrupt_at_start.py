"""Ctrl-C before the runner's main() has taken over ends in one sentence and 130, never a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from localdev import run
from localdev.runner.endings import EXIT_INTERRUPTED
from tests.workflow.conftest import ROOT


def test_ctrl_c_while_the_tool_loads_is_one_sentence_and_130() -> None:
    # As ``python -m localdev.run`` is located, sys.argv[0] is "-m": the package then guards the loading.
    script = (
        "import os, signal, sys, time\n"
        "sys.argv = ['-m']\n"
        "sys.orig_argv = [sys.executable, '-m', 'localdev.run']\n"
        "import localdev\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(600)\n"  # hang guard: the handler ends the process long before
    )
    completed = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert completed.returncode == 130
    assert completed.stderr.strip() == (
        "interrupted while starting: no execution was started, nothing was exported"
    )


def test_a_library_error_caused_by_ctrl_c_counts_as_the_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted_inside_a_library(*_: object) -> int:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("schema build failed") from None

    monkeypatch.setattr(run, "run_command", interrupted_inside_a_library)

    assert run.main(["--event", "events/manual.json"]) == EXIT_INTERRUPTED
    assert "the run broke" not in capsys.readouterr().err


def test_other_local_tools_keep_their_own_ctrl_c() -> None:
    script = (
        "import signal, sys\n"
        "sys.argv = ['-m']\n"
        "sys.orig_argv = [sys.executable, '-m', 'localdev.emulator']\n"
        "import localdev\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
    )
    completed = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.stdout.strip() == "True", completed.stderr
