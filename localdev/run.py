"""Run the export workflow on this machine: ``python -m localdev.run --event events/manual.json``.

A fleet input (``"trigger": "fleet"``, like ``events/fleet/schedule.json``) starts the fleet state
machine instead, with the export state machine as its child; progress then shows one line per image.
``--via smn`` (``make run EVENT=body.json VIA=smn``) posts the file, as it is, as the body of the SMN
endpoint: the request mapping template.yaml defines for ``POST /smn`` makes the execution input.

The real state machine definition and the real handlers run in moto's Step Functions interpreter, with
SSM, DynamoDB, EventBridge and SNS from moto. The cloud is the built-in IAM/IMS emulator, whose clock
jumps over every Wait instead of sleeping; or, when ``OS_AUTH_URL`` is set, the real cloud reached with
the usual ``OS_*`` variables (then waits are real). Progress goes to stderr; the execution's final output
is printed as JSON on stdout; the exit status is 0 only if the execution succeeded.

This module parses the arguments and hands the run to ``localdev/runner/`` (one module per part of a
run: targets, deployment, execution, progress, endings).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

from localdev import restore_interrupts
from localdev.result import local_document
from localdev.runner.command import EMULATOR_HANG_GUARD_SECONDS, run_command
from localdev.runner.emulator_demo import MAX_EARLIER_EXPORTS
from localdev.runner.endings import EXIT_REFUSED, ended_by
from localdev.runner.errors import Terminated
from localdev.runner.execution import OBS_NOTIFICATION_CHOICES
from localdev.runner.layout import DEFAULT_EVENT
from localdev.runner.text import cut
from localdev.runner.watch import DEFAULT_HEARTBEAT_SECONDS, RunWatch
from localdev.switches import switch_value

VIA_CHOICES = ("direct", "smn")
# The make variable that passes each option (Makefile ``run`` and ``follow``), for the option errors.
MAKE_VARIABLES = {
    "--event": "EVENT",
    "--via": "VIA",
    "--obs-notifications": "OBS_NOTIFICATIONS",
    "--timeout": "TIMEOUT",
    "--heartbeat": "HEARTBEAT",
    "--earlier-exports": "EARLIER_EXPORTS",
    "--follow": "JOB",
    "--image": "IMAGE",
    "--bucket-url": "BUCKET_URL",
    "--verbose": "VERBOSE",
}


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (and the exit code of a refusal), not a usage dump; an option is
    named with its make variable too, as most runs start from make."""

    def error(self, message: str) -> NoReturn:
        for option, variable in MAKE_VARIABLES.items():
            message = message.replace(f"argument {option}:", f"{variable} (argument {option}):")
        sentence = f"error: {cut(message)} (python -m localdev.run --help lists the options)"
        print(json.dumps(local_document("REFUSED", error="RunRefused", message=sentence), indent=2))
        self.exit(EXIT_REFUSED, sentence + "\n")


def _switch(text: str) -> bool:
    value = switch_value(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give 1 (or yes, true, on) for the functions' log lines, or 0 (or no, false, off, "
            "nothing) for the runner's own lines only"
        )
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0")
    return value


def _earlier_exports_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_EARLIER_EXPORTS:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number from 0 to {MAX_EARLIER_EXPORTS}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m localdev.run", description=__doc__.splitlines()[0])
    parser.add_argument("--event", type=Path, default=DEFAULT_EVENT, help="trigger event (JSON file)")
    parser.add_argument(
        "--follow", metavar="JOB_ID", help="follow this running IMS export job to its end (real cloud only)"
    )
    parser.add_argument("--image", help="with --follow: the job's image, when IMS does not name it")
    parser.add_argument("--bucket-url", help="with --follow: the job's bucket:object, for the outcome")
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        help="give up waiting after this many seconds (the export goes on); default: until it ends "
        f"(the emulator: {EMULATOR_HANG_GUARD_SECONDS:.0f} s, a hang guard)",
    )
    parser.add_argument(
        "--heartbeat",
        type=_positive_seconds,
        default=DEFAULT_HEARTBEAT_SECONDS,
        help="seconds between the progress lines of a real wait (default %(default).0f)",
    )
    parser.add_argument(
        "--verbose",
        nargs="?",
        const=True,
        default=False,
        type=_switch,
        help="show the functions' log lines (also --verbose=1, yes, true; 0, no, false or nothing: not)",
    )
    parser.add_argument(
        "--earlier-exports",
        type=_earlier_exports_count,
        default=0,
        metavar="N",
        help="the emulator only: put N earlier exports of the event's image into the bucket first, one a "
        "day older each, named by EXPORT_OBJECT_PATTERN (with RETENTION_COUNT, watch retention delete)",
    )
    parser.add_argument(
        "--via", choices=VIA_CHOICES, default="direct", help="smn: post the file as the SMN endpoint's body"
    )
    parser.add_argument(
        "--obs-notifications",
        choices=OBS_NOTIFICATION_CHOICES,
        default=OBS_NOTIFICATION_CHOICES[0],
        help="with WAKE_ON_OBS_NOTIFICATION on the emulator: deliver the OBS notification of the exported "
        "object (delivered), or lose it, so that polling sees the end (lost)",
    )
    return parser


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """The CLI: exit 0 succeeded, 1 failed, 2 refused, 124 gave up (TIMEOUT), 130 interrupted (143 on
    SIGTERM); stdout holds one JSON document of the ending (``localdev/result.py``), the last stderr line
    says what happened in words; no traceback for anything a user can cause."""
    watch = RunWatch(sys.stderr)
    restore_interrupts()
    in_main_thread = threading.current_thread() is threading.main_thread()
    earlier_sigterm = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _main(argv, watch)
    finally:
        if earlier_sigterm is not None:
            signal.signal(signal.SIGTERM, earlier_sigterm)


def _main(argv: list[str] | None, watch: RunWatch) -> int:
    try:
        args = _parser().parse_args(argv)
        watch.heartbeat_seconds = args.heartbeat
        return run_command(args, watch)
    except (KeyboardInterrupt, Exception) as error:  # the CLI's promise: one line, never a traceback
        return ended_by(error, watch)


if __name__ == "__main__":
    sys.exit(main())
